"""Every worker answers with the active model version, without a restart.

A daemon thread in each worker asks the database which version is active every MODEL_POLL
seconds (one indexed query) and, when it changed, loads that version's ONNX bytes into a new
Recognizer and puts it in place of the old one. A request takes the recognizer once, at its
start, so it is answered by one version from start to end and none fails during a swap; the
answer's ``model`` names the version that answered. While the database cannot be reached,
the worker keeps the version it has.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from digitrec.engine.recognizer import Recognizer
from digitrec.errors import DigitrecError
from digitrec.storage.models import SHIPPED, ModelVersions

log = logging.getLogger("digitrec.models")


class ModelSwitch:
    def __init__(self, app: Flask):
        self.app = app
        self.base: Recognizer = app.extensions["recognizer"]  # version 1
        self.versions = ModelVersions(app.extensions["feedback"], self.base.card)
        self.number = SHIPPED
        self._failing = False

    def check(self) -> int:
        """Serve the active version (loading it if it changed); its number."""
        number = self.versions.active_number()
        if number != self.number:
            if number == SHIPPED:
                recognizer = self.base
            else:
                onnx, _, card = self.versions.files(number)
                recognizer = Recognizer(model_bytes=onnx, card=card, max_pixels=self.base.max_pixels)
            self.app.extensions["recognizer"] = recognizer
            log.info("now serving model version %d (%s)", number, recognizer.version)
            self.number = number
        return number

    def watch(self, every: float) -> threading.Thread:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.check()
                    self._failing = False
                except DigitrecError as error:  # database down, a version that will not load
                    if not self._failing:
                        log.warning("cannot check the active model version: %s", error.message)
                    self._failing = True

        thread = threading.Thread(target=loop, name="digitrec-model-watch", daemon=True)
        thread.stop = stop  # type: ignore[attr-defined]
        thread.start()
        return thread


def start(app: Flask) -> ModelSwitch:
    """Check once now (a version promoted before the server started is served from the
    first request) and then every MODEL_POLL seconds."""
    switch = ModelSwitch(app)
    try:
        switch.check()
    except DigitrecError as error:
        log.warning("cannot check the active model version yet: %s", error.message)
    switch.watch(app.config["MODEL_POLL"])
    app.extensions["model_switch"] = switch
    return switch

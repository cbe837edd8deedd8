"""Training, evaluation and the data they use (needs the `train` extra for Keras/TensorFlow).

Importing it quiets TensorFlow's start-up lines (CPU features, "no GPU", grappler sessions)
and Keras's own FutureWarning about ``np.object``: they are noise to a person running
`digitrec train`. Set TF_CPP_MIN_LOG_LEVEL=0 to see them again.
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="In the future `np.object`", category=FutureWarning)

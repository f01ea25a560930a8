import sys
from pathlib import Path

# The example scenario files are importable as plain modules in these tests.
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "check"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

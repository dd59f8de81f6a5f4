"""287(g) Open Data: every archived ICE 287(g) publication built into one SQLite database."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
BUILD = ROOT / "build"

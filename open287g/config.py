"""Reads metadata.yml and canned_queries/*.sql and writes the served Datasette configuration (build/metadata.json)."""
import json
from pathlib import Path

from . import ROOT


def write_config(build_dir):
    """Placeholder until the publication config lands: metadata.yml as JSON."""
    import yaml

    source = ROOT / "metadata.yml"
    data = yaml.safe_load(source.read_text()) if source.exists() else {}
    out = Path(build_dir) / "metadata.json"
    out.write_text(json.dumps(data, indent=2))
    return out

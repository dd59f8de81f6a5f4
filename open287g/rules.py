"""ICE's vocabulary, written once: the three 287(g) models (name, code, the spellings seen in the files) and
the levels of government. Imports nothing, so the server's plugins and the build read the same table."""

# Code -> ICE's name for the model, in the order pages list them.
MODEL_NAMES = {"JEM": "Jail Enforcement Model", "WSO": "Warrant Service Officer", "TFM": "Task Force Model"}
MODEL_CODES = {name: code for code, name in MODEL_NAMES.items()}
CODES = tuple(MODEL_NAMES)

# Rule model_spelling: ICE's SUPPORT TYPE as printed (lowercased) -> the model's name; misspellings seen in the files.
MODEL_SPELLINGS = {
    "jail enforcement model": "Jail Enforcement Model",
    "jail enforcment model": "Jail Enforcement Model",
    "warrant service officer": "Warrant Service Officer",
    "warrant services officer": "Warrant Service Officer",
    "warrant service office": "Warrant Service Officer",
    "task force model": "Task Force Model",
    "task force officer": "Task Force Model",
}
# Rule roster_models: ICE's 2011-2017 roster printed "Jail Enforcement" and "Task Force". Read only in the roster:
# in ICE's files of 2021 on a bare "Task Force" is not a model the reader accepts.
ROSTER_MODEL_SPELLINGS = {"Jail Enforcement": "Jail Enforcement Model", "Task Force": "Task Force Model"}

# ICE's TYPE column as printed (lowercased) -> the level.
LEVELS = {
    "county": "County",
    "municipality": "Municipality",
    "muncipality": "Municipality",
    "municipal": "Municipality",
    "state": "State",
    "state agency": "State",
    # words ICE has not printed yet, each naming one level: a town is a municipality, a parish Louisiana's county
    "city": "Municipality",
    "town": "Municipality",
    "village": "Municipality",
    "borough": "Municipality",
    "township": "Municipality",
    "parish": "County",
}

# agencies.police_of lists town names joined by this (written by reach.py, read by the find plugin)
POLICE_OF_SEPARATOR = "; "

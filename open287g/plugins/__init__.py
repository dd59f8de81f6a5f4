"""Small local Datasette plugins shipped with the publication."""

"""The one colour palette of the site: maps, county fills and charts all read it from here.

Okabe-Ito colours, chosen so the three models stay distinct for red-green colour-blind readers.
"""

MODEL_COLOURS = {
    "JEM": "#0072B2",  # blue
    "WSO": "#E69F00",  # orange
    "TFM": "#CC79A7",  # reddish purple
}
ENDED_COLOUR = "#7a7a7a"  # ended agreements and ended-only counties
PENDING_COLOUR = "#56B4E9"  # pending-only agencies (sky blue, dashed outline on maps)
NONE_COLOUR = "#f2f2f2"  # counties with no agreement

COLOURS = {**MODEL_COLOURS, "ended": ENDED_COLOUR, "pending": PENDING_COLOUR, "none": NONE_COLOUR}

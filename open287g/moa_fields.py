"""Reads an MOA's positioned page segments (open287g.pdfpages) and returns its fields: model, template, agency, signatories, field office, contacts, addendum."""
import datetime
import re

from .identity import same_word
from .words import state_words

MODELS = {"Warrant Service Officer": "WSO", "Jail Enforcement": "JEM", "Task Force": "TFM"}
# ICE's ERO field offices, as the documents name them
FIELD_OFFICES = ("Atlanta", "Baltimore", "Boston", "Buffalo", "Chicago", "Dallas", "Denver", "Detroit", "El Paso",
                 "Harlingen", "Houston", "Los Angeles", "Miami", "Newark", "New Orleans", "New York City", "Philadelphia",
                 "Phoenix", "Salt Lake City", "San Antonio", "San Diego", "San Francisco", "Seattle", "St. Paul",
                 "Saint Paul", "Washington")
# ERO's three-letter codes for its field offices, as some documents write them ('For DHS: NOL Field Office Director')
FIELD_OFFICE_CODES = {"ATL": "Atlanta", "BAL": "Baltimore", "BOS": "Boston", "BUF": "Buffalo", "CHI": "Chicago",
                      "DAL": "Dallas", "DEN": "Denver", "DET": "Detroit", "ELP": "El Paso", "HLG": "Harlingen",
                      "HOU": "Houston", "LOS": "Los Angeles", "MIA": "Miami", "NEW": "Newark", "NOL": "New Orleans",
                      "NYC": "New York City", "PHI": "Philadelphia", "PHO": "Phoenix", "SLC": "Salt Lake City",
                      "SNA": "San Antonio", "SND": "San Diego", "SFR": "San Francisco", "SEA": "Seattle",
                      "SPM": "St. Paul", "WAS": "Washington"}
# Some 2025 documents print their labels in a font without a Unicode map: each letter shifted by 29.
CIPHER = {"1DPH": "Name", "7LWOH": "Title", "'DWH": "Date", "6LJQDWXUH": "Signature", "$JHQF\\": "Agency",
          ")RUWKH/($": "For the LEA", ")RU,&(": "For ICE"}
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTH_ABBR = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
TITLE_WORDS = re.compile(
    r"\b(Sheriff|Director|Chief|Commissioner|Secretary|Marshal|Mayor|Superintendent|Warden|Executive|Colonel|Manager|"
    r"Administrator|Constable|President|Judge|Officer|Captain|Lieutenant|Sergeant|Major|Deputy|Commander|Undersheriff|"
    r"Assistant|Associate|Acting|Attorney|Inspector|Agent|Head|Lt\.?|Capt\.?|Sgt\.?|Col\.?|Cpt\.?|Chairman|Supervisor|"
    r"Coordinator|Specialist|Counsel|Investigator|Detective|Senior|Corporal|Cpl\.?|Ssgt\.?|Det\.?|PIO|Jailer|Adjutant)\b", re.I)
NOT_NAME = re.compile(r"\b(County|Office|Department|Dept|Police|Enforcement|Immigration|Customs|Homeland|Security|"
                      r"Operations|Removal|Date|Signature|Name|Title|Agency|State|City|Division|Public|Affairs|Program|"
                      r"Washington|Services|Bureau|Patrol|Corrections?|Jail|LEA|ICE|DHS|MOA|For|the|of|and|U\.S\.)\b",
                      re.I)
NAME = re.compile(r"^[A-Z][A-Za-z.'\u2019\u00c0-\u017f-]*\.?(?: [A-Z][A-Za-z.'\u2019\u00c0-\u017f-]*\.?,?){1,3}(?:,? (?:Jr|Sr|II|III|IV)\.?)?$")
STATES = set("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
             "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split())
# words of offices, places and forms: a line holding one is not a person's name
NOT_PERSON = re.compile(r"\b(Media|Relations|Facility|Detention|Phone|Number|Beach|Information|Communications?|"
                        r"Headquarters|Center|Unit|Street|Road|Avenue|Highway|Suite|Box|Building|Court|Township|"
                        r"Marshals?|Sheriffs?|Sheriff's|Print|Printed|Signed|Digitally|Director|Officer|Affairs|"
                        r"Administration|Institutions|Troop|District|Region|Florida|Texas|Parish|Borough|Town|Village|"
                        r"University|College|School|Campus|Port|Airport|Authority|Commission|Board|Council|Team|"
                        r"Intelligence|Investigations?|Narcotics|Crimes?|Task|Force|Guard|National|Attorney|General|Standards|"
                        r"Professional|Support|Records|Training|Internal|Patrol|Only|Rehabilitation|Reentry|Signat\w*)\b", re.I)
PHONE = re.compile(r"\(?\b(\d{3})[)}\]]?[\s.\-/]*(\d{3})[\s.\-]*(\d{4})\b")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
LABEL = re.compile(r"\b(Date|Signat\w*|Signarure|Print(?:ed)?(?: Name)?|Name|T ?itle|Agency)\s*[:.,;]?", re.I)
# ranks and offices printed before a contact's name ("Chief Deputy Chris Stewart")
RANK = re.compile(r"^((?:(?:City|Chief|Asst\.?|Assistant|Deputy|Public Information|Undersheriff|Sheriff|Marshal|Major|"
                  r"Captain|Capt\.?|Cpt\.?|Lieutenant|Lt\.?|Sergeant|Sgt\.?|Ssgt\.?|Col\.?|Colonel|Cpl\.?|Corporal|"
                  r"Commander|Director|Officer|Detective|Det\.?|Inspector|Special Agent|Agent|Chief of Police|"
                  r"Lt\. Col\.?|PIO|Jailer|Constable)\s+)+)(.+)$", re.I)


def _unshift(word):
    """A word of the shifted font ('6KHULII' is 'Sheriff'); plain words, even all capitals, stay."""
    shifted = "".join(chr(ord(c) + 29) for c in word)
    if len(word) >= 3 and re.fullmatch(r"[A-Za-z][a-z]+", shifted) and re.search(r"[0-9&($\\']", word):
        return shifted
    return word


SHIFTED = re.compile(r"[\x03-\x08\x0b\x0c\x0e-\x1f]")


def decipher(text):
    if SHIFTED.search(text):  # a run of the shifted font with its spaces, digits or dots: every character shifted
        plain = "".join(chr(ord(c) + 29) for c in text)
        if all(" " <= c <= "~" for c in plain):
            return re.sub(r"\s+", " ", plain).strip()
    text = text.replace("\x03", " ")  # the shifted font's space
    for code, plain in CIPHER.items():
        text = text.replace(code, plain + ":")
    if re.fullmatch(r"B+", text.strip()):
        return "____"  # the shifted font's underscores
    text = re.sub(r"(?<=_)B+\b", "", re.sub(r"B{4,}", " ____ ", text))
    text = " ".join(_unshift(w) for w in text.split(" "))
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f]", "", re.sub(r"\bB{2,3}\b", "____", text))).strip()


class Line:
    """Segments that share a visual line, left to right."""

    def __init__(self, seg):
        self.parts = [seg]
        self.top, self.bottom = seg[2], seg[4]

    def takes(self, seg):
        centre, mine = (seg[2] + seg[4]) / 2, (self.top + self.bottom) / 2
        return self.top - 2 <= centre <= self.bottom + 2 or seg[2] - 2 <= mine <= seg[4] + 2

    def add(self, seg):
        self.parts.append(seg)
        self.top, self.bottom = min(self.top, seg[2]), max(self.bottom, seg[4])

    @property
    def text(self):
        out, right = "", None
        for p in sorted(self.parts, key=lambda p: p[1]):
            # runs of one word the text layer splits ("D" "epartment") join again; separate runs get a space
            out += ("" if right is not None and -0.5 <= p[1] - right < 0.8 else " ") + decipher(p[0])
            right = p[3]
        return out.strip()

    def method(self, fragment=None):
        """How the line (or the part holding `fragment`) was read: form, ocr or text."""
        parts = [p for p in self.parts if fragment and fragment in decipher(p[0])] or self.parts
        methods = {p[5] for p in parts}
        return "form" if "form" in methods else "ocr" if "ocr" in methods else "text"

    def confidence(self):
        """The lowest OCR confidence of the line's words, labels and rules aside: handwriting reads low."""
        confs = [p[6] for p in self.parts if len(p) > 6 and not LABEL.match(p[0].strip(" _:.,;|")) and re.search(r"[A-Za-z0-9]", p[0])]
        return min(confs) if confs else 100


def lines_of(segments):
    """Segments grouped into lines, top to bottom; tall boxes (form fields) join the line they straddle."""
    lines = []
    for seg in sorted(segments, key=lambda s: ((s[2] + s[4]) / 2, s[1])):
        if not seg[0]:
            continue
        for line in reversed(lines[-4:]):
            if line.takes(seg):
                line.add(seg)
                break
        else:
            lines.append(Line(seg))
    return sorted(lines, key=lambda l: l.top)


def page_lines(page):
    return lines_of(page["segments"])


def person_name(text):
    """text as a person's name ('Timothy 1 S. Robbins -' reads 'Timothy S. Robbins'), or None: a rank, an office,
    a label or a scan's noise is never given as a name."""
    text = re.sub(r"[_|~=*\u00b7\u2022]+", " ", text or "")
    # a text layer's space before an initial's full stop ('C .M . Cronen') goes
    text = re.sub(r"(?<=\b[A-Z]) +\.", ".", text)
    # a text layer's split word ('Th addeus') joins again; particles ('de la') stay apart
    text = re.sub(r"(?<=[A-Za-z]) (?=[a-z]{2,}\b)(?!(?:and|the|of|for|to|van|von|der|del|den|de|la|da|du)\b)", "", text)
    words = [w.strip(",;:-") for w in text.split()]
    words = [w for w in words if re.search(r"[A-Za-z]", w)]
    while len(words) > 2 and re.fullmatch(r"[A-Za-z]", words[-1]):
        words = words[:-1]  # a stray letter after the surname is a signature's stroke
    if not any(len(w) >= 4 for w in words):
        return None  # 'Er Sev': fragments of a name a scan broke, not the name
    if any(w in STATES for w in words) or any(re.match(r"[A-Z]{2,}[a-z]", w) for w in words):
        return None  # a place ('Blountstown, FL'), or OCR noise ('OIGlovannl')
    if not words or any(re.search(r"[^A-Za-z.'\u2019\-\u00c0-\u017f]", w) for w in words):
        return None
    name = " ".join(words)
    if name.isupper() and len(name) > 4:  # 'TIMOTHY R. WILZ' as printed, tested as a name in capitals
        probe = name.title()
    else:
        probe = name
    if not NAME.match(probe) or NOT_NAME.search(probe) or NOT_PERSON.search(probe) or TITLE_WORDS.search(probe):
        return None
    if not name.isupper() and any(re.search(r"[a-z][A-Z]", w) and not re.match(r"(Mc|Mac|De|Di|Da|La|Le|Van|Von)[A-Z]", w)
                                  for w in words):
        return None  # 'McCallum', 'DeSchryver' aside, a capital inside a word is OCR noise ('UesHERIFE')
    return name


def job_title(text):
    """text as an office ('Sheriff, Martin County', 'Acting Director'), or None: it must name one, and read as words."""
    text = clean(re.sub(r"[_|~=*]+", " ", text or ""))
    text = re.sub(r"(?<=[A-Za-z]{3}) (?=[a-z]\b)", "", text or "")  # a text layer's split word: 'Sherif f'
    if text and re.fullmatch(TITLE_WORDS.pattern, text.replace(" ", ""), re.I):
        text = text.replace(" ", "")  # a scanner's text layer splits a one-word office: 'Sher if f'
    text = _join_split_words(text, _office_word) if text else text  # 'Acting D irector', 'Chi e f of Pol ice'

    # an office holds no colon: before one is a misread label ('Tille: Acting Director', 'Attn:') or stray ink ('Acting:
    # Director'); another field's label ('Agency: Sheriff') is not the office's and stays, to be refused below
    head, colon, tail = (text or "").rpartition(": ")
    if colon and not re.search(r"\b(Date|Signature|Name|Agency)\b", head):
        text = f"{head} {tail}" if TITLE_WORDS.search(head) else tail
    # a signature's stroke read as a short word after the office: 'Sheriff st'
    text = re.sub(r"(?<=[A-Za-z]{3}) (?!(?:of|to|la|de)$)[a-z]{1,2}$", "", text) if text else text
    if not text or len(text) > 90 or not TITLE_WORDS.search(text) or re.match(r"(of|the|and|for|to)\b", text, re.I):
        return None
    if re.search(r"\d|[?/\\<>{}\[\]@#]|\b(Date|Signature|Name|Agency)\b", text):
        return None
    if re.search(r"(?:^|\s)[(\[{'\u2019\"]", text):
        return None  # a lone bracket or a quote opening a word: a scan's noise ("Sheriff. ( 'alhoun Count")
    words = text.replace(",", " ").split()
    if sum(len(w) <= 2 and w.lower() not in ("of", "to", "la", "de") and not w.endswith(".") for w in words) > 1:
        return None  # scattered letters: a scan's noise around a title
    return text


def clean(value):
    value = re.sub(r"_{2,}|\s{2,}", " ", value or "")
    value = re.sub(r"(?<=\s)[-\u2013\u2014~_.,|=]+(?=\s)", " ", value)  # stray dashes a scan or a rule leaves
    value = re.sub(r"\s{2,}", " ", value)
    return value.strip(" :;,.-_|\u2014").strip() or None


# --- dates ----------------------------------------------------------------------------------

# A stamp whose text layer puts underscores between its characters: 'O_C_T_1_5_2_01_9' is OCT 15 2019.
_UNDERSCORED = re.compile(r"\b(?:\w{1,2}_)+\w{1,2}\b")
_RUN_TOGETHER = re.compile(rf"^({MONTH_ABBR}|{MONTHS})(\d{{1,2}})(\d{{4}})$", re.I)


def _stamp(match):
    return _RUN_TOGETHER.sub(r"\1 \2 \3", match.group(0).replace("_", ""))


def parse_date(text):
    """The first typed date in text as ISO, or None."""
    if not text:
        return None
    # a stamp or a scan leaves dashes, rules and spaces between a date's parts: 'OCT - - 1 - 5 - 2019', 'March = 10, 2025'
    text = re.sub(r"(?<=\s)[-_~.=]+(?=\s)", " ", f" {text} ")
    text = _UNDERSCORED.sub(_stamp, text)
    text = text.replace("_", " ")  # what underscores are left are the form's rule, stuck to a part ('OCT _ _ 1 _ 5_ 2019')
    text = re.sub(rf"\b({MONTHS}|{MONTH_ABBR})\.?\s+(\d)\s+(\d)\b", r"\1 \2\3", text, flags=re.I)
    patterns = [
        (rf"\b({MONTHS}|{MONTH_ABBR})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", "mdy_name"),
        (r"\b(20\d\d)[.\-/](\d{1,2})[.\-/](\d{1,2})\b", "ymd"),
        (r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})\b", "mdy"),
    ]
    for pattern, kind in patterns:  # a month by name is the surest reading; then the first date on the line
        found = [(m.start(), _iso(m.groups(), kind)) for m in re.finditer(pattern, text, re.I)]
        found = [f for f in found if f[1]]
        if found:
            return min(found)[1]
    return None


def _iso(groups, kind):
    try:
        if kind == "mdy_name":
            month = next(i for i, n in enumerate(MONTHS.split("|"), 1) if n.lower().startswith(groups[0][:3].lower()))
            y, m, d = int(groups[2]), month, int(groups[1])
        elif kind == "ymd":
            y, m, d = (int(g) for g in groups)
        else:
            m, d, y = (int(g) for g in groups)
            y += 2000 if y < 100 else 0
        if not 2005 <= y <= 2030:
            return None
        return datetime.date(y, m, d).isoformat()
    except (ValueError, StopIteration):
        return None


# --- the document as a whole ----------------------------------------------------------------

def model_of(pages, file_name):
    head = re.sub(r"\s+", " ", " ".join(p["text"] for p in pages[:1])).lower()
    for words, model in MODELS.items():
        if words.lower() in head:
            return model, "text" if pages[0]["source"] == "text" else "ocr"
    for model in ("WSO", "JEM", "TFM"):
        if re.search(rf"(?<![A-Z]){model}(?![A-Z])", file_name):
            return model, "file name"
    return None, None


def revision_of(pages):
    for p in pages:
        m = re.search(r"\bRev(?:ised|\.)?\s*:?\s*(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{2,4})", p["text"])
        if m:
            return _iso(m.groups(), "mdy"), p["page"]
    return None, None


def file_year(file_name):
    """The signing year the file name carries: 2020-03-11, 02.20.2025, 031025, 03.04.25."""
    m = re.search(r"(?<!\d)(2019|202[0-6])(?!\d)", file_name)
    if m:
        return int(m.group(1))
    m = re.search(r"(?<!\d)\d{2}[._-]?\d{2}[._-]?(\d{2})(?!\d)", file_name)
    return 2000 + int(m.group(1)) if m and 19 <= int(m.group(1)) <= 26 else None


def template_of(model, revision, file_name, text):
    """One of the three templates the corpus shows, by revision line and year."""
    if (revision and revision.startswith("2025")) or file_year(file_name) == 2025:
        return "2025 TFM" if model == "TFM" else "2025 JEM/WSO"
    year = re.search(r"(?<!\d)(2019|2020|2021|2022|2023|2024)(?!\d)", file_name)
    if year and year.group(1) in ("2019", "2020"):
        return "2019-2020 WSO/JEM"
    if re.search(r"Assistant Director, Enforcement|Executive Associate Director", text) and not revision:
        return "2019-2020 WSO/JEM"
    return "other"


# Words agency names are made of (rule agency_named): a text layer's split word ('Sher if fs', 'Of f ice') is joined
# again when its pieces spell one, and a reading made of them and of its file name's words is a clean one.
AGENCY_WORDS_KNOWN = set("""
county sheriff sheriffs office offices department dept police public safety state city town township village borough
constable constables marshal marshals corrections correction correctional detention center jail division bureau
investigation investigations enforcement law agency commission commissioners board conservation wildlife fish patrol
highway university college school district authority services service criminal guard national attorney general
attorney's narcotics dangerous drugs control security lottery rehabilitation reentry regional parish the of and for
""".split()) | state_words()
_FILE_NOISE = {"moa", "tfm", "wso", "jem", "tf", "pdf", "287g", "287"}


def _plain(word):
    return re.sub(r"['\u2019]", "", word).lower().strip(".,;:()")


def _agency_word(word):
    return _plain(word) in AGENCY_WORDS_KNOWN


def _office_word(word):
    return _agency_word(word) or bool(TITLE_WORDS.fullmatch(word.strip(".,;:")))


def _join_split_words(text, known=_agency_word):
    """'Hamilton County Sher if f 's O f fic e' -> 'Hamilton County Sheriff's Office': neighbouring pieces that spell
    a known word together (an agency word; with known=_office_word an office's too: 'Acting D irector'), and not
    all are known alone, are one word a text layer split."""
    words, out, i = text.split(), [], 0
    while i < len(words):
        for k in range(min(5, len(words) - i), 1, -1):
            piece = "".join(words[i:i + k])
            if (known(piece) and all(re.search(r"[A-Za-z]", w) for w in words[i:i + k])
                    and not all(known(w) for w in words[i:i + k])):
                out.append(piece)
                i += k
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def _file_words(file_name):
    """The words of ICE's file name ('HighlandBeachPoliceDeptFL_TFM_MOA_04.10.2025.pdf' -> highland, beach, police,
    dept, fl), lower-cased; model codes, dates and 'MOA' left out."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", re.sub(r"\.pdf$", "", file_name, flags=re.I))
    return {w.lower() for w in words if w.lower() not in _FILE_NOISE}


def _file_places(file_name):
    """The place ICE's file name names ('HighlandBeachPoliceDeptFL_TFM_MOA_04.10.2025.pdf' -> highland, beach): its
    words of three letters or more written as words, not in capitals ('PDFL', 'SOTX' are abbreviations), less agency
    words, states and model codes; lower-cased."""
    words = re.findall(r"[A-Z]?[a-z]{2,}", re.sub(r"\.pdf$", "", file_name, flags=re.I))
    return {w.lower() for w in words if not _agency_word(w) and w.lower() not in state_words() and w.lower() not in _FILE_NOISE}


def _names_place(name, places):
    """Rule agency_named: a naming names the place ICE's file name names (any of places), a word of it holding the
    place's word, held in it ('Illsborough' of HIllsboroughCo), or a typo of it (identity's rule: 'SouthWestem'); true
    when the file name names no place ('287gJEM_FL_DOC'). A scan that lost the place ('ay County', 'rnge County',
    'Plor~o Coum!y') names no agency a reader could trust."""
    if not places:
        return True
    for word in name.split():
        w = _plain(word)
        if len(w) >= 3 and any(p in w or (len(w) >= 4 and w in p) or same_word(w, p) for p in places):
            return True
    return False


def _reading(name, file_words):
    """(words recognised, words unknown, words garbled) of one reading of the agency's name: recognised are agency
    words, states and the file name's words (or a word they begin: 'Co' of 'County'); garbled words hold digits or
    symbols, or capitals run together ('theHamntcnCountySherlff's0fflce')."""
    recognised = unknown = garbled = 0
    for word in name.split():
        core = word.strip(".,;:()'\u2019")
        if not core:
            continue
        if re.search(r"[^A-Za-z.'\u2019&-]", core) or (re.search(r"[a-z][A-Z]", core) and not re.match(r"(Mc|Mac|De|La)[A-Z]", core)):
            garbled += 1
        elif _agency_word(core) or any(_plain(core) == f or (len(f) >= 2 and _plain(core).startswith(f))
                                                        for f in file_words):
            recognised += 1
        else:
            unknown += 1
    return recognised, unknown, garbled


def _party_named(text, file_words):
    """The agency section I (Parties) names in text: 'between ICE ... and the <agency>, hereinafter ...'."""
    text = re.sub(r"\s+", " ", re.sub(r"_{2,}", " ", text))
    # a text layer splits words ('hereinaf ter') and runs 'the' into the name ('theCandia Police Dept.'); a scan's reads
    # DHS in its parentheses as it can ('( DHS ).', '(D HS)', '(DI-IS)', '(DHSj')
    m = re.search(r"Security\s*\(\s*[A-Za-z0-9 -]{2,6}?\s*[)\]j]\s*[.,]?\s*and\s*(?:the\b|the(?=[A-Z]))?\s*(.+?)(?:\s*,)?\s*"
                  r"(?:\(|h\s?e\s?r\s?e\s?i\s?n\s?a\s?f\s?t\s?e\s?r|hereafter|pursuant)", text)
    if not m:
        return None
    # a stray quote a scan leaves after the name ("GILES COUNTY TN SHERIFF'S OFFICE '") is no part of it
    name = clean(re.sub(r"\s+['\"\u2019]+$", "", re.sub(r"^the\b\s*", "", m.group(1), flags=re.I)))
    # a split word joins again when it spells an agency word or a word of ICE's file name ('B ay' of BayCo)
    return _join_split_words(name, lambda w: _agency_word(w) or _plain(w) in file_words) if name and len(name) <= 150 else None


def _first_page_parties(pages, file_words):
    """Section I's naming of the agency, read twice: from the first page's lines in the order they stand on the page,
    then, when it differs, from its text layer in the order the text was written. A 2019 template filled in by text
    boxes over its blanks has the name's line interleaved with the line it was typed over ('the trained, Santa
    certified, Rosa County ...') and a letter set apart ('the ____ ay County' for 'the B ay County'); the text
    layer's own order keeps them whole."""
    if not pages:
        return []
    readings = [_party_named(" ".join(l.text for l in page_lines(pages[0])), file_words),
                _party_named(pages[0]["text"], file_words)]
    return [r for r in dict.fromkeys(readings) if r]


def _footer_name(pages):
    """The agency the 2025 TFM template prints at the foot of every page ('Highland Beach Police Department, Florida
    2 Revised 03/07/2025'), as most pages read it: each page is a fresh reading of the same words."""
    readings = []
    for p in pages:
        foot = " ".join(l.text for l in page_lines(p) if l.top > p["height"] * 0.9)
        m = re.match(r"\s*(.*?)\s*(?:\d{1,2}\s+)?Revised\b", foot)
        if m and len(re.findall(r"[A-Za-z]{3,}", m.group(1))) >= 2:
            readings.append(clean(m.group(1)))
    readings = [r for r in readings if r]
    if not readings:
        return None
    best = max(readings, key=lambda r: (readings.count(r), -readings.index(r)))
    return best if readings.count(best) >= 2 else None


def agency_named(pages, file_name="", agency_block=()):
    """Rule agency_named: the agency the document names, and where it was read.

    Section I (Parties) on the first page is the document's own naming, and stands when every word of it reads as a
    word (an agency word, a state, a word of ICE's file name). Otherwise a scan or a damaged text layer garbled it
    ('Highland Bem:h Police Depar1menl. Flonda'), and the best-read of the other namings is taken: the name the
    2025 TFM template prints at the foot of each page, the agency's 'Agency:' line in the signature block, or the
    first page's reading after all; none when even the best-read has more words unknown or garbled than recognised.
    Returns (name, method): the method says which naming and how it was read."""
    if not pages:
        return None, None
    words, places = _file_words(file_name), _file_places(file_name)
    firsts = [first for first in _first_page_parties(pages, words) if _names_place(first, places)]
    for first in firsts:
        if _reading(first, words)[1:] == (0, 0):
            return first, pages[0]["source"]
    candidates = [(first, pages[0]["source"]) for first in firsts]
    footer = _footer_name(pages)
    if footer and _names_place(footer, places):
        candidates.append((footer, "page footer"))
    typed, how = labelled([l for l in lines_of(agency_block) if not re.fullmatch(r"[\W_]*", l.text)]).get("agency", (None, None))
    typed = _join_split_words(typed) if typed and not ICE_WORDS.search(typed) else None
    if typed and _names_place(typed, places):
        candidates.append((typed, f"signature block ({how.method()})"))
    if not candidates:
        return None, None

    def quality(candidate):
        recognised, unknown, garbled = _reading(candidate[0], words)
        return recognised - unknown - 2 * garbled

    best = max(candidates, key=lambda c: (quality(c), -candidates.index(c)))
    # fragments of a word a text layer split ('Sheri f r s') are not counted against it
    recognised, unknown, garbled = _reading(" ".join(w for w in best[0].split() if len(w.strip(".,;:()'\u2019")) > 2), words)
    if unknown + garbled > recognised:
        # No naming reads as an agency's: a text layer lost the name ('the a constitutional officer of the State of
        # Florida, located at ...') or garbled every reading ('thelTASc,couNTYSHERlFF'So,,,cE'). Better empty than wrong.
        return None, None
    return best


def field_office(pages):
    """The ERO field office section VII names ('For DHS: Miami Field Office Director'), else any '<city> Field Office'."""
    cities = "|".join(re.escape(c) for c in FIELD_OFFICES)
    patterns = [rf"For [DO0]HS\s*:?[^\n]{{0,30}}?\b({cities})\b,?\s+Field Office",
                rf"For [DO0]HS\s*:?\s*Field Office Director,?\s+({cities})\b",
                rf"\b({cities}),?\s+Field Office\b",
                rf"Field Office Director,?\s+(?:of\s+)?({cities})\b"]
    codes = "|".join(FIELD_OFFICE_CODES)
    patterns.append(rf"For [DO0]HS\s*:?\s*(?-i:({codes}))\s+Field Office")  # the code in capitals only
    for pattern in patterns:
        for p in pages:
            text = re.sub(r"[ \t]+", " ", p["text"])
            m = re.search(pattern, text, re.I)
            if m:
                name = FIELD_OFFICE_CODES.get(m.group(1)) or next(c for c in FIELD_OFFICES if c.lower() == m.group(1).lower())
                return {"value": "St. Paul" if name == "Saint Paul" else name, "page": p["page"], "method": p["source"]}
    return None


def addendum_page(pages):
    """The first page after the first that opens as an addendum."""
    for p in pages[1:]:
        head = re.sub(r"\s+", " ", p["text"][:300])
        if re.search(r"\bADDENDUM\b|^\s*Addendum\b|Addendum to (?:the )?Memorandum", head):
            return p["page"]
    return None


# --- the signature block --------------------------------------------------------------------

ICE_WORDS = re.compile(r"For ICE|Immigration|Customs|Removal Operations|Homeland Security|Enforcement and Removal|"
                       r"Executive Associate|Field Office Director", re.I)


AGENCY_WORDS = re.compile(r"\b(Sheriff|County|Police|Marshal|Constable|Parish|For the LEA)\b", re.I)


# The sentence above the signature blocks, 'By signing this MOA, each party represents it is fully authorized to enter
# into this MOA ...', as the pages give it: whole; its first words where a scanner's text layer misread the rest
# ('B~ signing this !\-ICM.', 'By signing this MO/\'); its words out of order where tesseract read the justified
# lines of two columns as one ('By the terms, signing responsibilities, this MOA, each obligations, party represents').
SIGNING = re.compile(r"B\W?y?\W?signingthis|fullyauthori[sz]edtoenter|signing.{0,80}represents")


def _signature_region(pages):
    """(segments, page numbers) below 'By signing this MOA ...', spilling onto the next page when the block does.

    The first such block is the MOA's own; an embedded addendum repeats it later."""
    for p in pages:
        lines = page_lines(p)
        # a scanner's text layer splits words ('By sign ing'): the sentence is matched without spaces
        start = next((i for i, l in enumerate(lines) if SIGNING.search(l.text.replace(" ", ""))), None)
        if start is None:
            continue
        # the sentence ends 'agrees to be bound thereto / to the fullest extent allowed by law.': the block starts below
        ends = [i for i in range(start, min(start + 5, len(lines)))
                if re.search(r"allowedbylaw|boundthereto", lines[i].text.replace(" ", ""))]
        end_line = ends[-1] if ends else start
        below = [s for l in lines[end_line + 1:] if l.top < p["height"] * 0.92 for s in l.parts]
        region = [(s, p["page"]) for s in below]
        if len([s for s in below if len(s[0]) > 2]) < 4 and p["page"] < len(pages):
            nxt = pages[p["page"]]
            # an appendix opening the next page is not the block's continuation ('APPENDIX A / POINTS OF CONTACT')
            appendix = next((l.top for l in page_lines(nxt) if re.match(r"\s*APPENDIX\b", l.text)), nxt["height"] * 0.92)
            region += [(s, nxt["page"]) for s in nxt["segments"] if s[2] < min(appendix, nxt["height"] * 0.92)]
        return region, p
    return [], None


def _signature_blocks(pages, template):
    """({'ice': [(segment, page number)], 'agency': [...]}, the signature block's page), or ({}, None) without one."""
    region, page = _signature_region(pages)
    if not region:
        return {}, None
    mid = page["width"] / 2
    # the blocks part where the right-hand heading ('For ICE:') begins, else at the middle of the page
    headings = [seg[1] for seg, _ in region if seg[1] > page["width"] * 0.3 and re.match(r"For$|For\b", decipher(seg[0]))]
    if headings and min(headings) < page["width"] * 0.7:
        mid = min(headings) - 4
    columns = {"left": [], "right": []}
    for seg, number in region:
        if seg[3] - seg[1] > page["width"] * 0.6:
            continue  # a line across both blocks is prose or a footer
        side = "left" if (seg[1] + seg[3]) / 2 < mid else "right"
        columns[side].append((seg, number))
    # the side that names ICE is ICE's; one that names a sheriff, a county or a police is the agency's
    score = {side: sum(bool(ICE_WORDS.search(t)) - bool(AGENCY_WORDS.search(t)) for t in (decipher(s[0]) for s, _ in segs))
             for side, segs in columns.items()}
    if score["left"] != score["right"]:
        ice = "left" if score["left"] > score["right"] else "right"
    else:
        ice = "left" if template == "2019-2020 WSO/JEM" else "right"
    return {("ice" if side == ice else "agency"): segs for side, segs in columns.items()}, page


def signatories(blocks, page):
    """[{party, name, title, signed_on, date_handwritten, page, method}] for ICE and the agency, from _signature_blocks."""
    out = []
    for party, segs in blocks.items():  # in the page's order, left block first
        number = segs[0][1] if segs else page["page"]
        out.append(dict(party=party, **read_block([s for s, _ in segs]), page=number))
    return out


# tesseract's lowest word confidence a value may have: handwriting reads low. An office must also name one
# (job_title), so it may read a little lower than a name, which has no such check.
NAME_CONFIDENCE, TITLE_CONFIDENCE, DATE_CONFIDENCE = 60, 50, 80


def _label(word):
    word = word.lower()
    return "name" if word.startswith("print") else "signature" if word.startswith("sig") else word.replace(" ", "")


def labelled(lines):
    """{label: (value, line)}: what follows each label (Date, Signature, Name or Print, Title, Agency) on its line, up
    to the next label; a label with nothing after it takes the unlabelled line just above, where a typed value sits."""
    out = {}
    for i, line in enumerate(lines):
        text = line.text
        marks = list(LABEL.finditer(text))
        for j, m in enumerate(marks):
            key = _label(m.group(1))
            value = clean(text[m.end():marks[j + 1].start() if j + 1 < len(marks) else len(text)])
            if not value and i and not LABEL.search(lines[i - 1].text) and line.top - lines[i - 1].bottom < 6 \
                    and not re.match(r"\s*For\b", lines[i - 1].text):
                value = clean(lines[i - 1].text)
            if key not in out or (value and not out[key][0]):
                out[key] = (value, line)
    return out


def title_and_name(value):
    """A Title line that carries the signer's name as well ('Union County Sheriff Brad Whitehead') -> (title, name)."""
    words = (value or "").split()
    for cut in range(len(words) - 2, 0, -1):
        title, name = " ".join(words[:cut]), person_name(" ".join(words[cut:]))
        if name and job_title(title) and len(words) - cut <= 4:
            return title, name
    return value, None


def _digital(lines):
    """'Digitally signed by TODD M LYONS Date: 2025.03.26 ...' -> (name, date)."""
    joined = " ".join(l.text for l in lines)
    m = re.search(r"Digitally signed by\s+([A-Z][A-Za-z.' -]{3,40}?)\s*(?:Date|DN|Reason|$)", joined)
    if not m:
        return None, None
    name = person_name(m.group(1).title() if m.group(1).isupper() else m.group(1))
    return name, parse_date(joined[m.end() - 6:])


def _digital_stamp(lines):
    """The timestamp of a digital signature whose words a text layer scrambled ('Date: 2020.06.10 14:08:49')."""
    m = re.search(r"\b(20[\dOoDlI]{2})\.([\dOoDlI]{2})\.([\dOoDlI]{2}) [\dOoDlI]{2}:[\dOoDlI]{2}", " ".join(l.text for l in lines))
    # a text layer reads a digit of the stamp as the letter it looks like ('2020.D6.30 16:47:SO'): O, o and D for 0, l and I for 1
    return _iso(tuple(g.translate(_DIGIT_LOOKALIKES) for g in m.groups()), "ymd") if m else None


_DIGIT_LOOKALIKES = str.maketrans("OoDlI", "00011")


def _exact_date(line):
    """The date the line's text layer or form fields print: exact, whatever tesseract read around them on a scan."""
    return parse_date(" ".join(decipher(p[0]) for p in sorted(line.parts, key=lambda p: p[1]) if p[5] != "ocr"))


def read_block(segments):
    """One party's block: name, title, date typed or handwritten, and how each was read.

    A value is given only when it reads as one: a person's name (person_name), an office (job_title), a typed date;
    otherwise it stays empty. A block whose date is not typed is flagged handwritten, never guessed."""
    lines = [l for l in lines_of(segments) if not re.fullmatch(r"[\W_]*", l.text)]
    lines = [l for l in lines if not re.search(r"\bRev(?:ised|\.)?\s*:?\s*\d", l.text)]  # the footer's revision date
    result = {"name": None, "title": None, "signed_on": None, "date_handwritten": 0, "method": None}
    fields = labelled(lines)
    used = []
    date_value, date_line = fields.get("date", (None, None))
    if date_line and not parse_date(date_value):
        # a scan's misread label between 'Date:' and the typed date ('Date: Signatures March 10, 2025'): the line
        # after its first label (labelled() found one on it)
        date_value = date_line.text[LABEL.search(date_line.text).end():]
    digital_name, digital_date = _digital(lines)
    digitally = re.search(r"D[il1]g[il1]ta[il1][il1]y", " ".join(l.text for l in lines), re.I)
    if date_line and parse_date(date_value) and (date_line.confidence() >= DATE_CONFIDENCE or _exact_date(date_line) == parse_date(date_value)):
        result["signed_on"] = parse_date(date_value)
        used.append(date_line)
    elif digital_date or (digitally and _digital_stamp(lines)):
        result["signed_on"] = digital_date or _digital_stamp(lines)
    elif not digitally:
        typed = [l for l in lines if parse_date(l.text) and l.confidence() >= DATE_CONFIDENCE and not LABEL.search(l.text)]
        if typed:
            result["signed_on"] = parse_date(typed[0].text)
            used.append(typed[0])
    # the name: its label (Name, Print), the heading 'For the LEA: <name>', the signature line, the digital signature
    header = next((l for l in lines if re.match(r"\s*For (?:the )?(?:LEA|ICE|DHS)\b", l.text)), None)
    candidates = [fields.get("name", (None, None)),
                  (clean(re.sub(r"^\s*For (?:the )?(?:LEA|ICE|DHS)\s*:?", "", header.text)) if header else None, header),
                  fields.get("signature", (None, None))]
    for value, line in candidates:
        if line and person_name(value) and line.confidence() >= NAME_CONFIDENCE:
            result["name"] = person_name(value)
            used.append(line)
            break
    else:
        result["name"] = digital_name
    title_value, title_line = fields.get("title", (None, None))
    title_value, written = title_and_name(title_value)
    if written and not result["name"] and title_line.confidence() >= NAME_CONFIDENCE:
        result["name"] = written
    if job_title(title_value) and title_line.confidence() >= TITLE_CONFIDENCE:
        result["title"] = job_title(title_value)
        used.append(title_line)
    if not fields.get("name") and not title_line:  # the 2019-2020 block: name and title typed under the signature
        name, title, line = _unlabelled(lines)
        result["name"] = result["name"] or name
        result["title"] = result["title"] or title
        used += [line] if line else []
    elif not result["name"] and not fields.get("name"):
        # a 2025 scan whose 'Name:' label tesseract lost: the typed name stands alone on its line
        alone = next((l for l in lines if not LABEL.search(l.text) and l.confidence() >= NAME_CONFIDENCE and person_name(l.text)), None)
        if alone:
            result["name"] = person_name(alone.text)
            used.append(alone)
    if not result["signed_on"] and not digitally and (fields or result["name"] or result["title"]):
        result["date_handwritten"] = 1  # the block is there and its date is not typed: left empty, never guessed
    methods = [l.method() for l in lines if l.text.strip()]
    result["method"] = "form" if any(l.method() == "form" for l in used) else used[0].method() if used else (methods[0] if methods else None)
    return result


def _unlabelled(lines):
    """(name, title, line of the name): the office typed under the signature and the name on the line above it,
    else the first line that reads as a name."""
    for i, line in enumerate(lines):
        title = job_title(line.text) if not LABEL.search(line.text) else None
        if title and i and lines[i - 1].confidence() >= NAME_CONFIDENCE and person_name(lines[i - 1].text):
            return person_name(lines[i - 1].text), title, lines[i - 1]
    for i, line in enumerate(lines):
        text = re.sub(r"^.*Date\s*:?.*$", "", line.text)
        name = person_name(text) if line.confidence() >= NAME_CONFIDENCE else None
        if name:
            following = [l.text for l in lines[i + 1:i + 3]]
            return name, next((job_title(t) for t in following if job_title(t)), None), line
    title = next((job_title(l.text) for l in lines if job_title(l.text) and not LABEL.search(l.text)), None)
    return None, title, None


# --- points of contact ----------------------------------------------------------------------

def split_rank(text):
    """A contact's line -> (name, title): 'Chief Deputy Chris Stewart' -> ('Chris Stewart', 'Chief Deputy'),
    'Sheriff Sites' -> ('Sites', 'Sheriff') (a surname after a rank), 'Christine Weiss, Public Information Officer'
    -> ('Christine Weiss', 'Public Information Officer'); a line that names no person -> (None, the line)."""
    text = clean(text) or ""
    text = re.sub(r"\b(Sheriff|Chief|Deputy|Captain|Lieutenant|Sergeant|Undersheriff|Major)(?=[A-Z][a-z])", r"\1 ", text)
    head, _, tail = text.partition(",")
    if tail and person_name(head) and job_title(tail):
        return person_name(head), job_title(tail)
    m = RANK.match(text)
    if m:
        rest, rank = m.group(2).strip(), m.group(1).strip()
        if person_name(rest):
            return person_name(rest), rank
    # a rank with a word of its post before it: 'Training Sergeant Marla R. Brown'
    post = None if m else re.match(r"([A-Z][a-z]{2,})\s+(.+)$", text)
    ranked = RANK.match(post.group(2)) if post else None
    if ranked and (name := person_name(ranked.group(2).strip())):
        return name, f"{post.group(1)} {ranked.group(1).strip()}"
    if m:
        if re.fullmatch(r"[A-Z][a-z]+(?:['\u2019-][A-Z]?[a-z]+)?", rest) and not (NOT_NAME.search(rest) or NOT_PERSON.search(rest)
                                                                          or TITLE_WORDS.search(rest)):
            return rest, rank
    if person_name(text):
        return person_name(text), None
    return None, text or None


ORGANISATION = re.compile(r"^(?:the\s+)?(?:Department|Dept|Office|Bureau|Division|Agency)\b|"
                          r"\b(?:Office|Department|Dept\.?|Division|Bureau|Agency|Center|Facility|Jail|Police|Sheriff'?s|"
                          r"County|Sherriff|Operations)\s*$|County Sheriff|Police Dep", re.I)
ADDRESS = re.compile(r"\d{3,}|^\d+ |Suite|Street|Avenue|\bAve\b|\bSt\b|Road|Blvd|Drive|P\.?O\.? Box|, [A-Z]{2} ?\d")


def contact_title(text):
    """The office a contact's line names ('Public Information Officer', 'Sheriff' of 'Benton County Sheriff's
    Office, Sheriff'), or None when the line names only an organisation."""
    parts = [clean(p) for p in text.split(",")]
    for part in [clean(text)] + parts[::-1]:
        title = job_title(part) if part else None
        if title and not ORGANISATION.search(title):  # the office as read, split words joined
            return title
    return None


def _contacts_of(party, section, block):
    """The contacts printed in one party's block of lines: a line naming a person starts a contact (or names the one
    begun by its title); titles, phones and e-mails on the lines around it belong to it."""
    out, current = [], None

    def new(line, page):
        return {"party": party, "section": section, "name": None, "title": None, "phone": None, "email": None,
                "page": page, "method": line.method()}

    for line, page in block:
        text = clean(line.text) or ""
        phone, email = PHONE.search(text), EMAIL.search(text)
        bare = clean(EMAIL.sub("", PHONE.sub("", text))) or ""
        name, rank = (None, None)
        if bare and not ADDRESS.search(bare):
            head, _, tail = bare.partition(",")
            name, rank = split_rank(head)
            if name and line.confidence() < NAME_CONFIDENCE:  # handwriting, or a scan's noise
                name = None
            if name:
                rank = " ".join(t for t in (rank if rank and TITLE_WORDS.search(rank) else None,
                                            contact_title(tail) if tail else None) if t) or None
            else:
                rank = contact_title(bare)
        if name and (current is None or current["name"]):
            current = new(line, page)
            out.append(current)
        elif current is None and (rank or phone or email):
            current = new(line, page)
            out.append(current)
        if current is None:
            continue
        current["name"] = current["name"] or name
        current["title"] = current["title"] or rank
        if phone and not current["phone"]:
            current["phone"] = f"{phone.group(1)}-{phone.group(2)}-{phone.group(3)}"
        if email and not current["email"]:
            current["email"] = email.group(0)
        if line.method() != "text":
            current["method"] = line.method() if current["method"] == "text" else current["method"]
    return out


def _section_lines(pages, start, stop, limit=40):
    """(heading line, [(line, page)]): from the first line matching `start` up to one matching `stop`."""
    for p in pages:
        lines = page_lines(p)
        first = next((i for i, l in enumerate(lines) if re.search(start, l.text)), None)
        if first is None:
            continue
        out = []
        for line in lines[first + 1:first + 1 + limit]:
            if re.search(stop, line.text) or line.top > p["height"] * 0.92:
                break
            out.append((line, p["page"]))
        return lines[first], out
    return None, []


def _party_blocks(found, section):
    """Split lines at 'For the LEA:' / 'For ICE:' headings into each party's contacts."""
    contacts, party, block = [], None, []
    for line, page in found + [(None, None)]:
        m = re.match(r"\s*For\s*(the LEA|ICE|D[HI\-]+S|OHS|the [^:]{3,80}):?\s*(.*)$", line.text, re.I) if line else None
        if m or line is None:
            if party and block:
                contacts += _contacts_of(party, section, block)
            if line is None:
                break
            party = "ice" if re.fullmatch(r"ICE|D[HI\-]+S|OHS", m.group(1), re.I) else "agency"
            block = []
            rest = clean(m.group(2))
            if rest:
                block.append((_Rest(rest, line), page))
            continue
        if party and clean(line.text):
            block.append((line, page))
    return contacts


class _Rest:
    """The part of a line after its 'For ...:' heading, read as the line was."""

    def __init__(self, text, line):
        self.text, self._line = text, line

    def method(self):
        return self._line.method(self.text)

    def confidence(self):
        return self._line.confidence()



def contacts(pages):
    """Section VII (2019-2020, 2025 JEM/WSO) or appendix A (2025 TFM), and appendix C points of contact."""
    heading, found = _section_lines(pages, r"^(?!.*PUBLIC).*POINTS OF CONT", r"^\s*VIII\b|EFFECTIVE DATE|^\s*APPENDIX", limit=14)
    out = _party_blocks(found, "VII" if heading and re.search(r"\bVII\b", heading.text) else "appendix A") if heading else []
    _, found = _section_lines(pages, r"PUBLIC INFORMATION POINTS OF CONT", r"^\s*APPENDIX|Revised \d", limit=40)
    return out + _party_blocks(found, "appendix C")


# --- everything -----------------------------------------------------------------------------

def extract(pages, file_name):
    """All the fields of one document, each with its page and method where it has one."""
    text = "\n".join(p["text"] for p in pages)
    model, model_method = model_of(pages, file_name)
    revision, revision_page = revision_of(pages)
    template = template_of(model, revision, file_name, text)
    blocks, block_page = _signature_blocks(pages, template)
    agency, agency_method = agency_named(pages, file_name, [seg for seg, _ in blocks.get("agency", ())])
    return {
        "model": model,
        "model_method": model_method,
        "template": template,
        "revision": revision,
        "revision_page": revision_page,
        "agency_named": agency,
        "agency_method": agency_method,
        "field_office": field_office(pages),
        "addendum_page": addendum_page(pages),
        "signatories": signatories(blocks, block_page),
        "contacts": contacts(pages),
    }

"""Reads an MOA's positioned page segments (open287g.pdfpages) and returns its fields: model, template, agency, signatories, field office, contacts, addendum."""
import datetime
import re

MODELS = {"Warrant Service Officer": "WSO", "Jail Enforcement": "JEM", "Task Force": "TFM"}
# ICE's ERO field offices, as the documents name them
FIELD_OFFICES = ("Atlanta", "Baltimore", "Boston", "Buffalo", "Chicago", "Dallas", "Denver", "Detroit", "El Paso",
                 "Harlingen", "Houston", "Los Angeles", "Miami", "Newark", "New Orleans", "New York City", "Philadelphia",
                 "Phoenix", "Salt Lake City", "San Antonio", "San Diego", "San Francisco", "Seattle", "St. Paul",
                 "Saint Paul", "Washington")
# Some 2025 documents print their labels in a font without a Unicode map: each letter shifted by 29.
CIPHER = {"1DPH": "Name", "7LWOH": "Title", "'DWH": "Date", "6LJQDWXUH": "Signature", "$JHQF\\": "Agency",
          ")RUWKH/($": "For the LEA", ")RU,&(": "For ICE"}
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTH_ABBR = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
TITLE_WORDS = re.compile(
    r"\b(Sheriff|Director|Chief|Commissioner|Secretary|Marshal|Mayor|Superintendent|Warden|Executive|Colonel|Manager|"
    r"Administrator|Constable|President|Judge|Officer|Captain|Lieutenant|Sergeant|Major|Deputy|Commander|Undersheriff|"
    r"Assistant|Associate|Acting|Attorney|Inspector|Agent|Head|Lt\.?|Capt\.?|Sgt\.?|Col\.?|Cpt\.?|Chairman|Supervisor|"
    r"Coordinator|Specialist|Counsel|Investigator|Detective|Senior|Corporal|Cpl\.?|PIO)\b", re.I)
NOT_NAME = re.compile(r"\b(County|Office|Department|Dept|Police|Enforcement|Immigration|Customs|Homeland|Security|"
                      r"Operations|Removal|Date|Signature|Name|Title|Agency|State|City|Division|Public|Affairs|Program|"
                      r"Washington|Services|Bureau|Patrol|Corrections?|Jail|LEA|ICE|DHS|MOA|For|the|of|and|U\.S\.)\b",
                      re.I)
NAME = re.compile(r"^[A-Z][A-Za-z.'\u2019-]*\.?(?: [A-Z][A-Za-z.'\u2019-]*\.?,?){1,3}(?: (?:Jr|Sr|II|III|IV)\.?)?$")
PHONE = re.compile(r"\(?\b(\d{3})[)}\]]?[\s.\-/]*(\d{3})[\s.\-]*(\d{4})\b")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
LABEL = re.compile(r"\b(Date|Signature|Signarure|Name|Title|Agency)\s*:?", re.I)
# ranks and offices printed before a contact's name ("Chief Deputy Chris Stewart")
RANK = re.compile(r"^((?:(?:City|Chief|Asst\.?|Assistant|Deputy|Public Information|Undersheriff|Sheriff|Marshal|Major|"
                  r"Captain|Capt\.?|Cpt\.?|Lieutenant|Lt\.?|Sergeant|Sgt\.?|Ssgt\.?|Col\.?|Colonel|Cpl\.?|Corporal|"
                  r"Commander|Director|Officer|Detective|Det\.?|Inspector|Special Agent|Agent|Chief of Police|"
                  r"Lt\. Col\.?|PIO)\s+)+)(.+)$", re.I)


def _unshift(word):
    """A word of the shifted font ('6KHULII' is 'Sheriff'); plain words, even all capitals, stay."""
    shifted = "".join(chr(ord(c) + 29) for c in word)
    if len(word) >= 3 and re.fullmatch(r"[A-Za-z][a-z]+", shifted) and re.search(r"[0-9&($\\']", word):
        return shifted
    return word


def decipher(text):
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
        confs = [p[6] for p in self.parts if len(p) > 6]
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


def clean(value):
    value = re.sub(r"_{2,}|\s{2,}", " ", value or "")
    value = re.sub(r"(?<=\s)[-\u2013\u2014~_.,|=]+(?=\s)", " ", value)  # stray dashes a scan or a rule leaves
    value = re.sub(r"\s{2,}", " ", value)
    return value.strip(" :;,.-_|\u2014").strip() or None


# --- dates ----------------------------------------------------------------------------------

def parse_date(text):
    """The first typed date in text as ISO, or None."""
    if not text:
        return None
    patterns = [
        (rf"\b({MONTHS}|{MONTH_ABBR})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", "mdy_name"),
        (r"\b(20\d\d)[.\-/](\d{1,2})[.\-/](\d{1,2})\b", "ymd"),
        (r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})\b", "mdy"),
    ]
    found = []
    for pattern, kind in patterns:
        for m in re.finditer(pattern, text, re.I):
            iso = _iso(m.groups(), kind)
            if iso:
                found.append((m.start(), iso))
    return min(found)[1] if found else None


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


def agency_named(pages):
    """The agency as the first page names it: 'between ICE ... and the <agency>, hereinafter ...'."""
    lines = page_lines(pages[0]) if pages else []
    text = re.sub(r"\s+", " ", re.sub(r"_{2,}", " ", " ".join(l.text for l in lines)))
    m = re.search(r"Security \([DO0]HS\),?\s*and\s*(?:the\b)?\s*(.+?)(?:\s*,)?\s*(?:\(|herein\s*after|hereafter|pursuant)", text)
    if not m:
        return None, None
    name = clean(re.sub(r"^the\b\s*", "", m.group(1), flags=re.I))
    if not name or len(name) > 150:
        return None, None
    return name, pages[0]["source"]


def field_office(pages):
    """The ERO field office section VII names ('For DHS: Miami Field Office Director'), else any '<city> Field Office'."""
    cities = "|".join(re.escape(c) for c in FIELD_OFFICES)
    patterns = [rf"For [DO0]HS\s*:?[^\n]{{0,30}}?\b({cities})\b,?\s+Field Office",
                rf"For [DO0]HS\s*:?\s*Field Office Director,?\s+({cities})\b",
                rf"\b({cities}),?\s+Field Office\b",
                rf"Field Office Director,?\s+(?:of\s+)?({cities})\b"]
    for pattern in patterns:
        for p in pages:
            text = re.sub(r"[ \t]+", " ", p["text"])
            m = re.search(pattern, text, re.I)
            if m:
                name = next(c for c in FIELD_OFFICES if c.lower() == m.group(1).lower())
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


def _signature_region(pages):
    """(segments, page numbers) below 'By signing this MOA ...', spilling onto the next page when the block does.

    The first such block is the MOA's own; an embedded addendum repeats it later."""
    for p in pages:
        lines = page_lines(p)
        start = next((i for i, l in enumerate(lines) if re.search(r"By signing this MOA|fully authori[sz]ed to enter", l.text)), None)
        if start is None:
            continue
        end_line = next((i for i in range(start, len(lines)) if re.search(r"allowed by law|bound thereto", lines[i].text)), start)
        below = [s for l in lines[end_line + 1:] if l.top < p["height"] * 0.92 for s in l.parts]
        region = [(s, p["page"]) for s in below]
        if len([s for s in below if len(s[0]) > 2]) < 4 and p["page"] < len(pages):
            nxt = pages[p["page"]]
            region += [(s, nxt["page"]) for s in nxt["segments"] if s[2] < nxt["height"] * 0.92]
        return region, p
    return [], None


def signatories(pages, template):
    """[{party, name, title, signed_on, date_handwritten, page, method}] for ICE and the agency."""
    region, page = _signature_region(pages)
    if not region:
        return []
    mid = page["width"] / 2
    columns = {"left": [], "right": []}
    for seg, number in region:
        if seg[3] - seg[1] > page["width"] * 0.6:
            continue  # a line across both blocks is prose or a footer
        side = "left" if (seg[1] + seg[3]) / 2 < mid else "right"
        columns[side].append((seg, number))
    score = {side: sum(bool(ICE_WORDS.search(decipher(s[0]))) for s, _ in segs) for side, segs in columns.items()}
    if score["left"] != score["right"]:
        ice = "left" if score["left"] > score["right"] else "right"
    else:
        ice = "left" if template == "2019-2020 WSO/JEM" else "right"
    out = []
    for side, segs in columns.items():
        party = "ice" if side == ice else "agency"
        number = segs[0][1] if segs else page["page"]
        out.append(dict(party=party, **read_block([s for s, _ in segs]), page=number))
    return out


def _labelled(lines, label):
    for line in lines:
        text = line.text
        m = re.search(rf"\b{label}\s*:?", text, re.I)
        if m:
            value = clean(LABEL.sub(" ", text[m.end():]))
            return line, value
    return None, None


def _digital(lines):
    """'Digitally signed by TODD M LYONS Date: 2025.03.26 ...' -> (name, date, line)."""
    joined = " ".join(l.text for l in lines)
    m = re.search(r"Digitally signed by\s+([A-Z][A-Za-z.' -]{3,40}?)\s*(?:Date|DN|Reason|$)", joined)
    if not m:
        return None, None
    name = clean(m.group(1))
    return (name if name and NAME.match(name.title()) else None), parse_date(joined[m.end() - 6:])


def read_block(segments):
    """One party's block: name, title, date typed or handwritten, and how each was read."""
    lines = [l for l in lines_of(segments) if not re.fullmatch(r"[\W_]*", l.text)]
    lines = [l for l in lines if not re.search(r"\bRev(?:ised|\.)?\s*:?\s*\d", l.text)]  # the footer's revision date
    result = {"name": None, "title": None, "signed_on": None, "date_handwritten": 0, "method": None}
    date_line, date_value = _labelled(lines, "Date")
    typed = [(l, parse_date(l.text)) for l in lines if parse_date(l.text) and l.confidence() >= 80]
    if date_line and parse_date(date_line.text) and date_line.confidence() >= 80:
        result["signed_on"] = parse_date(date_line.text)
    elif typed and not any(re.search(r"Digitally signed", l.text) for l, _ in typed):
        result["signed_on"] = typed[0][1]
    name_line, name = _labelled(lines, "Name")
    title_line, title = _labelled(lines, "Title")
    digital_name, digital_date = _digital(lines)
    if digital_date and not result["signed_on"]:
        result["signed_on"] = digital_date
    if not name:
        _, signed = _labelled(lines, "Signature")
        name = signed if signed and NAME.match(signed) and not NOT_NAME.search(signed) else None
    if not name and digital_name:
        name = digital_name.title() if digital_name.isupper() else digital_name
    if not name and not title_line:  # the 2019-2020 block: name and title typed under the signature, no labels
        name, title = _unlabelled(lines)
    if title and not TITLE_WORDS.search(title) and len(title) < 4:
        title = None
    result.update(name=name, title=title)
    digitally = re.search(r"D[il1]g[il1]ta[il1][il1]y", " ".join(l.text for l in lines), re.I)
    if not result["signed_on"] and (date_line or name or title) and not digitally:
        result["date_handwritten"] = 1  # the block is there and its date is not typed: left empty, never guessed
    methods = [l.method() for l in lines if l.text.strip()]
    used = [l for l in (date_line, name_line, title_line) if l]
    result["method"] = (used[0].method() if used else (methods[0] if methods else None))
    if any(l.method() == "form" for l in used):
        result["method"] = "form"
    return result


def _unlabelled(lines):
    for i, line in enumerate(lines):
        text = clean(re.sub(r"^.*Date\s*:?.*$", "", line.text))
        if text and NAME.match(text) and not NOT_NAME.search(text) and not TITLE_WORDS.search(text) and line.confidence() >= 60:
            following = [clean(l.text) for l in lines[i + 1:i + 3] if clean(l.text)]
            title = next((t for t in following if TITLE_WORDS.search(t)), None)
            return text, title
    title = next((clean(l.text) for l in lines if TITLE_WORDS.search(l.text) and not re.search(r"Date|Signature", l.text)), None)
    return None, title


# --- points of contact ----------------------------------------------------------------------

def split_rank(text):
    """'Chief Deputy Chris Stewart' -> ('Chris Stewart', 'Chief Deputy'); a plain name or title stays whole."""
    text = clean(text) or ""
    m = RANK.match(text)
    if m and NAME.match(m.group(2).strip()) and not NOT_NAME.search(m.group(2)):
        return m.group(2).strip(), m.group(1).strip()
    if NAME.match(text) and not NOT_NAME.search(text) and not TITLE_WORDS.search(text):
        return text, None
    return None, text or None


def _contact(party, section, page, method, lines):
    """One contact from the lines printed for it: name, title, phone, e-mail as printed."""
    joined = " ".join(lines)
    phone = PHONE.search(joined)
    email = EMAIL.search(joined)
    name = title = fallback = None
    for text in lines:
        bare = clean(EMAIL.sub("", PHONE.sub("", text)))
        if not bare or re.search(r"\d{3,}|^\d+ |Suite|Street|Avenue|\bAve\b|\bSt\b|Road|Blvd|Drive|, [A-Z]{2} ?\d", bare):
            continue
        n, t = split_rank(bare)
        name = name or n
        if t and TITLE_WORDS.search(t):
            title = title or t
        fallback = fallback or t
    title = title or fallback
    if not (name or title or phone or email):
        return None
    return {"party": party, "section": section, "name": name, "title": title,
            "phone": f"{phone.group(1)}-{phone.group(2)}-{phone.group(3)}" if phone else None,
            "email": email.group(0) if email else None, "page": page, "method": method}


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
    """Split lines at 'For the LEA:' / 'For ICE:' headings into one contact block per party."""
    contacts, party, block = [], None, []

    def flush():
        if not (party and block):
            return
        if party == "agency" and section == "appendix A":  # one contact a line there
            for line, page in block:
                c = _contact(party, section, page, line.method(), [clean(line.text) or ""])
                if c:
                    contacts.append(c)
            return
        methods = {line.method() for line, _ in block}
        method = "form" if "form" in methods else "ocr" if "ocr" in methods else "text"
        c = _contact(party, section, block[0][1], method, [clean(line.text) or "" for line, _ in block])
        if c:
            contacts.append(c)

    for line, page in found:
        m = re.match(r"\s*For (the LEA|ICE|DHS|OHS|the [^:]{3,80}):?\s*(.*)$", line.text, re.I)
        if m:
            flush()
            party = "ice" if m.group(1).upper() in ("ICE", "DHS", "OHS") else "agency"
            block = []
            rest = clean(m.group(2))
            if rest:
                block.append((_Rest(rest, line), page))
            continue
        if party and clean(line.text):
            block.append((line, page))
    flush()
    return contacts


class _Rest:
    """The part of a line after its 'For ...:' heading, read as the line was."""

    def __init__(self, text, line):
        self.text, self._line = text, line

    def method(self):
        return self._line.method(self.text)


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
    agency, agency_method = agency_named(pages)
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
        "signatories": signatories(pages, template),
        "contacts": contacts(pages),
    }

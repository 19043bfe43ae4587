"""What an educator needs to coach a learner: per emotion, how their reading has moved (earlier answers
against recent ones), what they read each emotion as, when they last practised, and a one-page report to
share with a family or a school. Pure functions over a learner's answers; no Streamlit, no database."""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from fercore.labels import EMOTIONS
from fercore.store.records import ClassMember, Focus, PeopleTally, StoredAnswer

TREND_MIN = 6  # answers to an emotion before earlier and recent halves say anything
TREND_STEP = 0.10  # a change smaller than this between the halves is "about the same"
LATELY = timedelta(days=7)
CONFUSIONS_SHOWN = 3
LABEL_AGREEMENT = ("FER2013's labels are noisy: people agree with them about 65% of the time, so no one "
                   "matches them always.")


@dataclass(frozen=True)
class EmotionTrend:
    emotion: str
    answered: int
    earlier: float | None  # the share that matched the label in the earlier half; None with too few answers
    recent: float  # in the recent half (in all of them, with too few)

    @property
    def direction(self) -> str:
        """In words, never in colour alone."""
        if self.earlier is None:
            return "too few answers to tell"
        change = self.recent - self.earlier
        return "improving" if change >= TREND_STEP else "fewer matches lately" if change <= -TREND_STEP else "steady"


@dataclass(frozen=True)
class Confusion:
    emotion: str  # the label
    read_as: str  # what the learner chose instead
    times: int


@dataclass(frozen=True)
class LearnerSummary:
    name: str
    answered: int
    matched: int
    in_sessions: int  # answers given in class sessions; the rest were practice on their own
    first: datetime | None
    last: datetime | None
    emotions: list[EmotionTrend]  # in EMOTIONS order, only those practised
    confusions: list[Confusion]  # the most frequent first


def summarize(name: str, answers: Sequence[StoredAnswer]) -> LearnerSummary:
    """Answers oldest first."""
    return LearnerSummary(name, len(answers), sum(a.correct for a in answers),
                          sum(a.session is not None for a in answers),
                          answers[0].answered_at if answers else None, answers[-1].answered_at if answers else None,
                          emotion_trends(answers), confusions(answers))


def emotion_trends(answers: Sequence[StoredAnswer]) -> list[EmotionTrend]:
    trends = []
    for index, emotion in enumerate(EMOTIONS):
        hits = [a.correct for a in answers if a.true_label == index]
        if not hits:
            continue
        if len(hits) < TREND_MIN:
            trends.append(EmotionTrend(emotion, len(hits), None, sum(hits) / len(hits)))
            continue
        half = len(hits) // 2
        earlier, recent = hits[:half], hits[half:]
        trends.append(EmotionTrend(emotion, len(hits), sum(earlier) / len(earlier), sum(recent) / len(recent)))
    return trends


def confusions(answers: Sequence[StoredAnswer], most: int = CONFUSIONS_SHOWN) -> list[Confusion]:
    """Which emotion the learner read as which, the most frequent first (ties in EMOTIONS order)."""
    counts = Counter((a.true_label, a.guess) for a in answers if not a.correct)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Confusion(EMOTIONS[true], EMOTIONS[guess], times) for (true, guess), times in ranked[:most]]


def not_practised_lately(members: Sequence[ClassMember], now: datetime, lately: timedelta = LATELY) -> list[str]:
    """Names of the members with no answer in the last `lately` (or none at all), in the class's order."""
    return [m.name for m in members if not m.answers or now - m.answers[-1].answered_at > lately]


def focus_words(focus: Focus) -> str:
    """"fear and sad at level 2", as the learner and the educator read it, and the deck if there is one."""
    on_deck = f" on the practice deck {focus.deck[1]}" if focus.deck else ""
    return f"{and_list(focus.emotions)} at level {focus.level}{on_deck}"


def and_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def report_html(summary: LearnerSummary, class_name: str, focus: Focus | None, note: str, now: datetime,
                with_people: dict[str, PeopleTally] | None = None) -> str:
    """A one-page report that prints cleanly from a browser: what was practised, each emotion's trend, the
    confusions, the faces of people read in Guess the face, the next step and the educator's note. Everything
    people typed is escaped."""
    e = html.escape
    people = "".join(f"<tr><td>{emotion}</td><td>{t.faces}</td><td>{t.matched}</td><td>{t.model_matched}</td></tr>"
                     for emotion, t in (with_people or {}).items())
    rows = "".join(f"<tr><td>{t.emotion}</td><td>{t.answered}</td><td>{_share(t.earlier)}</td>"
                   f"<td>{_share(t.recent)}</td><td>{t.direction}</td></tr>" for t in summary.emotions)
    mixed = "".join(f"<li>{c.emotion} was read as {c.read_as} {_times(c.times)}</li>" for c in summary.confusions)
    period = (f"from {summary.first:%d %B %Y} to {summary.last:%d %B %Y}" if summary.first else "no answers yet")
    step = f"<p>Next step: practise {e(focus_words(focus))}.</p>" if focus else ""
    if focus and focus.note:
        step += f"<p>{e(focus.note)}</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Practice report: {e(summary.name)}</title>
<style>
body {{ font: 12pt/1.45 system-ui, sans-serif; color: #111; max-width: 46em; margin: 2em auto; padding: 0 1em; }}
h1 {{ font-size: 1.5em; margin-bottom: 0.2em; }} h2 {{ font-size: 1.1em; margin-top: 1.4em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #555; padding: 0.3em 0.5em; text-align: left; }}
.small {{ font-size: 0.9em; color: #333; }}
@media print {{ body {{ margin: 0; max-width: none; font-size: 10.5pt; line-height: 1.35; }}
  h2 {{ margin: 0.9em 0 0.3em; }} td, th {{ padding: 0.15em 0.4em; }} @page {{ margin: 1.5cm; }} }}
</style></head><body>
<h1>Practice report: {e(summary.name)}</h1>
<p class="small">Class {e(class_name)} · made {now:%d %B %Y}</p>
<h2>What was practised</h2>
<p>{summary.answered} faces, {period}: {summary.in_sessions} in class sessions and
{summary.answered - summary.in_sessions} on their own. {summary.matched} answers matched the label.</p>
<h2>Each emotion, earlier and recent answers</h2>
{f'''<table><thead><tr><th scope="col">Emotion</th><th scope="col">Faces</th><th scope="col">Earlier: matched</th>
<th scope="col">Recent: matched</th><th scope="col">Trend</th></tr></thead><tbody>{rows}</tbody></table>'''
 if rows else "<p>No emotions practised yet.</p>"}
<h2>Emotions read as another</h2>
{f"<ul>{mixed}</ul>" if mixed else "<p>None so far.</p>"}
<h2>With people (Guess the face)</h2>
{f'''<table><thead><tr><th scope="col">Emotion the partner meant</th><th scope="col">Faces</th>
<th scope="col">Seen as meant</th><th scope="col">The model read it</th></tr></thead><tbody>{people}</tbody></table>'''
 if people else "<p>No faces of people read yet.</p>"}
<h2>The educator's next step and note</h2>
{step}{f"<p>{e(note)}</p>" if note.strip() else ""}{"" if step or note.strip() else "<p>None.</p>"}
<p class="small">{LABEL_AGREEMENT} The earlier and recent shares split each emotion's answers in two halves,
from {TREND_MIN} answers on.</p>
</body></html>
"""


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"

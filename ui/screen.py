"""Tablets and phones. On a touch screen, or a window too narrow for the sidebar beside a large face, the
navigation folds away, the page's top margin shrinks and buttons become finger-sized, so the face is the
largest thing on the screen. Mouse-driven desktops keep the sidebar and today's sizes.

The browser alone knows its screen: a media query decides every style here, and the same query, asked
once by a tiny component, tells Streamlit to start with the sidebar folded (Streamlit's own "auto" folds it
only below 768 px, which leaves a portrait tablet with a 120 px face)."""
import streamlit as st

# pointer: coarse is a finger (tablets, phones); a laptop's trackpad or mouse is fine even with a touch screen.
SMALL_OR_TOUCH = "(pointer: coarse), (max-width: 1199.98px)"
PHONE = "(max-width: 640px)"  # where Streamlit stacks columns
TOUCH_TARGET = "44px"  # WCAG 2.5.5's comfortable size, and Apple's and Google's guidance

_STYLE = f"""<style>
@media {SMALL_OR_TOUCH} {{
  /* The header bar is 3.75rem; Streamlit's 6rem above the title pushes the face down. */
  [data-testid="stMainBlockContainer"] {{ padding: 4rem 1rem 2rem; }}
  [data-testid^="stBaseButton-primary"], [data-testid^="stBaseButton-secondary"], [data-testid="stPageLink"] a,
  [data-testid="stSidebarNavLink"], [data-testid="stExpander"] summary, [role="tab"],
  [data-testid="stRadio"] label, [data-testid="stCheckbox"] label, [data-testid="stCameraInput"] button,
  [data-testid="stExpandSidebarButton"] {{ min-height: {TOUCH_TARGET}; }}
  [data-testid="stExpandSidebarButton"] {{ min-width: {TOUCH_TARGET}; }}
}}
@media {PHONE} {{  /* who is signed in and "Sign out" on one row, not two */
  .st-key-signed-in [data-testid="stColumn"] {{ min-width: 0; }}
}}
</style>"""

# The quiz (pages/quiz.py's container keys). A portrait tablet stacks the pictures above the words, so the
# face and its heatmap share the full width; a phone keeps the three readings and two choices to a row, so
# less stands between the face and the buttons.
QUIZ_STYLE = f"""<style>
@media {SMALL_OR_TOUCH} {{
  @media (max-width: 999.98px) {{
    .st-key-quiz-layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] {{ row-gap: 1rem; }}
    .st-key-quiz-layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"]
      > [data-testid="stColumn"] {{ min-width: 100%; }}
  }}
  /* Short screens (a landscape tablet, a touch laptop): the face is sized so that it and the choices
     under it, or the readings above it in the reveal, fit the height; 470 px is the page above and below.
     Never under two 260 px pictures side by side. */
  @media (min-width: 641px) {{
    .st-key-square-question {{ max-width: max(536px, calc(2 * (100vh - 470px) + 1rem)); }}
  }}
}}
@media {PHONE} {{
  /* A phone held upright: the face (and in the reveal its heatmap) is sized so that it, the question and a
     row of choices fit the first screen; 560 px is the page above and below it. svh: with the browser's bars. */
  .st-key-square-question {{ max-width: max(200px, calc(100svh - 560px)); margin-inline: auto; }}
  .st-key-readings [data-testid="stColumn"] {{ min-width: 0; }}
  .st-key-readings [data-testid="stMetricValue"] {{ font-size: 1.5rem; }}
  .st-key-readings [data-testid="stMetricLabel"] * {{ white-space: normal; }}
  .st-key-choices [data-testid="stColumn"] {{ min-width: calc(50% - 0.5rem); }}
}}
</style>"""

_FOLD_JS = """
export default function({ data, setStateValue }) {
  const query = matchMedia(data.query);
  // Reported only when it differs, so a desktop's first visit costs no extra run.
  const report = () => { if (query.matches !== data.folds) setStateValue("folds", query.matches); };
  report();
  query.addEventListener("change", report);
  return () => query.removeEventListener("change", report);
}
"""
_fold_watch = st.components.v2.component("fercore_fold_navigation", js=_FOLD_JS)


def fit_screen() -> None:
    """Once per run from navigation.py, after the sidebar's own content: styles, and the sidebar's starting state."""
    st.html(_STYLE)
    folds = bool(st.session_state.get("fold_navigation", {}).get("folds"))
    with st.sidebar:
        _fold_watch(key="fold_navigation", data={"query": SMALL_OR_TOUCH, "folds": folds}, default={"folds": False},
                    on_folds_change=lambda: None, height=0)
    # A learner who opens or closes the sidebar is remembered by Streamlit, and that choice wins over this.
    st.set_page_config(initial_sidebar_state="collapsed" if folds else "auto")

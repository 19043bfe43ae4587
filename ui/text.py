"""Text from outside the app (error messages, paths, what people type) shown exactly as written."""
import re

# Markdown, Streamlit's :colour[...] directives, <html> and $maths$ all start with these: a backslash makes
# each one literal.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")
# Streamlit (1.67, StreamlitMarkdown) also rewrites text after the Markdown is read, where backslashes no longer
# count: :material/x: and :material_x: icons, the :streamlit: logo, :emoji: names, arrows (-> <= ~= --), and web
# and e-mail addresses made links (GFM's literal autolinks, in labels too). An invisible word joiner inside each
# such pattern breaks it, and the text still shows and reads as typed.
_REWRITTEN = re.compile(r"(?<=:)(?=[\w/+-])|(?<=[-<>~])(?=[-=>])|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def plain(text: str) -> str:
    """Shown exactly as typed wherever Streamlit reads Markdown: st.markdown, st.write, st.info and the like,
    and labels (buttons, expanders, tabs, options, captions), where links and images also render."""
    return _MARKUP.sub(r"\\\1", _REWRITTEN.sub(WORD_JOINER, str(text)))


def first_sentence(error: Exception) -> str:
    """fercore's errors put the short sentence first and the details on later lines."""
    return str(error).strip().splitlines()[0]


# An absolute path on the server: from a / (or a drive letter) after a space, a quote or a bracket, to the next
# space or quote. Never a web address (://) or a project path (models/default.keras): those follow a letter or :.
_SERVER_PATH = re.compile(r"(?<![\w:/.~\\>*\])-])(?:/|[A-Za-z]:[\\/])[^\s'\"`()\[\]<>,;:]+")


def without_server_paths(text: str) -> str:
    """fercore's messages name files by where they are on the server, which is no use to whoever reads the page
    and shows strangers how the server is laid out: the data folder becomes "the app's data folder", any other
    absolute path the name of its file (default.keras)."""
    from fercore.data import resolve_data_path  # fercore.data loads NumPy and OpenCV: only when text needs it

    text = str(text).replace(str(resolve_data_path()), "the app's data folder")
    return _SERVER_PATH.sub(_file_name, text)


def _file_name(path: re.Match) -> str:
    whole = path[0]
    stem = whole.rstrip(".")  # a sentence's full stop, not the path's
    return re.split(r"[\\/]", stem.rstrip("\\/"))[-1] + whole[len(stem):]


def plain_error(error) -> str:
    """An error's message for a page: without the server's paths, and shown exactly as written."""
    return plain(without_server_paths(error))

"""Text from outside the app (error messages, paths, what people type) shown exactly as written."""
import re

# Markdown, Streamlit's :colour[...] and :material/...: directives, and $maths$ all start with these.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain(text: str) -> str:
    """Escaped for st.markdown, st.write, st.info and the like, so nothing in it is read as markup."""
    return _MARKUP.sub(r"\\\1", str(text))


def first_sentence(error: Exception) -> str:
    """fercore's errors put the short sentence first and the details on later lines."""
    return str(error).strip().splitlines()[0]

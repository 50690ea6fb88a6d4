"""The other side of a persona: its custom OpenAI-compatible LLM (DESIGN §8).

`request` builds what the platform sends (from `preview`, with real secret values),
`wire` sends it with the official openai client and reads the raw stream, `check`
judges a stream, `chat` holds a text conversation.
"""

from personactl.llm.chat import chat
from personactl.llm.check import Check, Report, check
from personactl.llm.request import CONVERSATION_HEADER, LlmError, LlmRequest, build_request

__all__ = [
    "CONVERSATION_HEADER",
    "Check",
    "LlmError",
    "LlmRequest",
    "Report",
    "build_request",
    "chat",
    "check",
]

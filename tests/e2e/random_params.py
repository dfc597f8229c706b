"""Random, well-typed parameters for an operation, from its botocore input shape.

Every value has the type the model asks for, so botocore can serialize it; what it
holds is anything: empty and over-long strings, control characters, unknown enum
values, negative and huge numbers, structures missing members the model leaves
optional. `plausible` maps member names to values worth trying often (names of
resources that exist), so calls get past "not found" into the code behind it.
"""

from __future__ import annotations

import datetime
import random
import string
from typing import Any

from botocore.model import Shape

_ALPHABET = string.ascii_letters + string.digits + "-_/.:*?$%&+= \u00e9\u4e2d\x00\n"
# A header cannot carry control characters at all (HTTP refuses the message before any
# operation sees it; the SDK refuses a newline before sending).
_HEADER_ALPHABET = _ALPHABET.replace("\x00", "").replace("\n", "")
_DEPTH = 4  # below this, only required members and empty lists


class RandomParams:
    def __init__(self, rnd: random.Random, plausible: dict[str, list[Any]]) -> None:
        self._rnd = rnd
        self._plausible = plausible

    def value(self, shape: Shape, name: str = "", depth: int = 0) -> Any:
        rnd, t = self._rnd, shape.type_name
        if name in self._plausible and t != "structure" and rnd.random() < 0.5:
            return rnd.choice(self._plausible[name])
        if t == "structure":
            required = shape.required_members
            return {m: self.value(s, m, depth + 1) for m, s in shape.members.items()
                    if (m in required or (depth < _DEPTH and rnd.random() < 0.5))
                    and not s.serialization.get("eventpayload")
                    and s.serialization.get("name", "").lower() != "content-length"}  # the SDK's to tell
        if t == "list":
            n = rnd.choice([0, 1, 2, 3, 25]) if depth < _DEPTH else 0
            return [self.value(shape.member, name, depth + 1) for _ in range(n)]
        if t == "map":
            if shape.serialization.get("location") == "headers":  # x-amz-meta-*: keys and values are headers
                return {self._string(shape.key, header=True): self._string(shape.value, header=True)
                        for _ in range(rnd.choice([0, 1, 3]))}
            return {self._string(shape.key): self.value(shape.value, "", depth + 1)
                    for _ in range(rnd.choice([0, 1, 3]) if depth < _DEPTH else 0)}
        if t == "string":
            return self._string(shape, header=shape.serialization.get("location") in ("header", "headers"))
        if t in ("integer", "long"):
            m = shape.metadata
            return rnd.choice([0, -1, 1, 5, 1000, 2**31 - 1, 2**31, 2**63 - 1, m.get("min", 0), m.get("max", 7)])
        if t == "boolean":
            return rnd.random() < 0.5
        if t in ("double", "float"):
            return rnd.choice([0.0, -1.5, 1e300, 3.14])
        if t == "timestamp":
            return rnd.choice([datetime.datetime(1970, 1, 1), datetime.datetime(2030, 1, 1), datetime.datetime.now()])
        if t == "blob":
            return rnd.choice([b"", b"x" * 10, rnd.randbytes(300)])
        return None

    def _string(self, shape: Shape, header: bool = False) -> str:
        rnd = self._rnd
        if shape.enum and rnd.random() < 0.7:
            return str(rnd.choice(shape.enum))
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 40)
        roll = rnd.random()
        if roll < 0.15:
            n = low
        elif roll < 0.25:
            n = min(high, 3000) + 1
        else:
            n = rnd.randint(low, max(low, min(high, 40)))
        alphabet = _HEADER_ALPHABET if header else _ALPHABET
        return "".join(rnd.choice(alphabet) for _ in range(n))

"""Long-lived objects out of the cyclic garbage collector's reach, once a model is loaded."""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Move every object alive now (libraries, model, vocabularies) to the collector's permanent generation.

    A loaded model leaves ~400k long-lived objects; each full collection walked them all (~0.2-0.5 s on these
    CPUs), holding a service's event loop, and every request in flight waited for it. Frozen objects are
    still freed by reference counting; only cycles among them would stay.
    """
    gc.collect()
    gc.freeze()

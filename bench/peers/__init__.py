"""Peer active-learning libraries, called through their public functions.

Each module here imports its library only inside ``cases()``, so the bench
package imports without the libraries installed. A case names the strategy
of ours it matches and selects k pool items the way the library's docs show.
"""

from __future__ import annotations

from bench.peers.baal_peer import PEER as BAAL
from bench.peers.base import Peer
from bench.peers.modal_peer import PEER as MODAL
from bench.peers.skactiveml_peer import PEER as SKACTIVEML
from bench.peers.smalltext_peer import PEER as SMALL_TEXT

PEERS: tuple[Peer, ...] = (MODAL, SMALL_TEXT, BAAL, SKACTIVEML)

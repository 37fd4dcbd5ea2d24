#!/usr/bin/python3
"""hgweb of the chain's source server: the repositories under /srv/hg, served at /hg/<repo>.

A push is allowed only to the user that Apache authenticated (REMOTE_USER, HTTP basic auth);
without one nobody may push, even if a request got past Apache's own check. push_ssl = false:
TLS, if any, ends in front of this server (it listens on loopback).
"""

import os

from mercurial import demandimport

demandimport.enable()

from mercurial import ui as uimod  # noqa: E402
from mercurial.hgweb import hgwebdir_mod, wsgicgi  # noqa: E402

base = uimod.ui.load()
base.setconfig(b"web", b"push_ssl", b"false", b"chain-source")
base.setconfig(b"web", b"allow-push", os.environ.get("REMOTE_USER", "").encode(), b"chain-source")
base.setconfig(b"web", b"allow-archive", b"", b"chain-source")
base.setconfig(b"web", b"descend", b"false", b"chain-source")
wsgicgi.launch(hgwebdir_mod.hgwebdir([(b"/", b"/srv/hg/*")], baseui=base))

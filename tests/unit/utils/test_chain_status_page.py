"""chain_status_page: chain.status's data as one self-contained HTML page (pure)."""

import html.parser

from saltext.chain.utils import chain_status_page as page

DATA = {
    "app": {
        "last_deploy": {"kind": "rollout", "result": True, "image": "r/app@sha256:1", "ref": "c1"},
        "servers": {
            "web1": {
                "current": "r/app@sha256:1",
                "replicas": {
                    "app-web1-g-1": {
                        "status": "running",
                        "health": "healthy",
                        "slot": 1,
                        "serving": True,
                    },
                    "app-web1-g-2": {
                        "status": "running",
                        "health": "unhealthy",
                        "slot": None,
                        "serving": False,
                    },
                },
            },
            "web2": {"error": "web2 did not answer"},
        },
        "jenkins": {
            "url": "http://127.0.0.1:8090/",
            "agents": {"linux-1": {"offline": False, "idle": True, "labels": ["linux"]}},
            "queue": [],
            "builds": [
                {"number": 2, "result": "FAILURE", "duration": 0.3, "ref": "c2", "agent": "x"}
            ],
        },
        "registry": {"repository": "r/app", "tags": {"c1": "sha256:1", "<b>": None}},
    }
}


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.cells.append(data.strip())


def test_page_shows_every_part_and_marks_health():
    text = page.render(DATA, now=0)
    parser = _Collect()
    parser.feed(text)
    cells = parser.cells
    for expected in (
        "app app",
        "app-web1-g-1",
        "web2 did not answer",
        "linux-1",
        "#2",
        "FAILURE",
        "c2",
        "sha256:1",
    ):
        assert expected in cells, (expected, cells)
    classes = [attrs.get("class") for tag, attrs in parser.tags if tag == "td"]
    assert "bad" in classes and "ok" in classes
    assert not any(tag in ("script", "link", "img") for tag, _ in parser.tags)


def test_page_escapes_what_it_shows():
    text = page.render(DATA, now=0)
    assert "<b>" not in text.split("<body>", 1)[1].replace("<body>", "")
    assert "&lt;b&gt;" in text

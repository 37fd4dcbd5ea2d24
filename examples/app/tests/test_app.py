"""Unit tests of the sample app (the pipeline's first stage runs them: python3 -m unittest)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import app  # noqa: E402


class RouteTest(unittest.TestCase):
    def test_health_is_ok(self):
        status, _, body = app.route("/health")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"ok\n")

    def test_version_names_the_build(self):
        status, ctype, body = app.route("/version")
        self.assertEqual((status, ctype), (200, "application/json"))
        self.assertEqual(set(json.loads(body)), {"version", "commit"})

    def test_root_greets_with_the_version(self):
        status, _, body = app.route("/?x=1")
        self.assertEqual(status, 200)
        self.assertIn(app.VERSION.encode(), body)

    def test_unknown_path_is_404(self):
        self.assertEqual(app.route("/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()

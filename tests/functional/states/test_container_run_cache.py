"""The image reads that consecutive ``container`` states of one run share (``_image_data``).

A no-op highstate reads each image once, not once per container; a state of another kind in
between (here a ``cmd.run`` that retags the image, as ``docker pull`` of a moved tag does) must
make the next ``container.running`` read the image again and recreate its container.
"""

import io
import json

import pytest

from tests.support import engines
from tests.support.engines import BUSYBOX, RUN, TEST_LABEL

pytestmark = pytest.mark.docker

SLS = """
{first}:
  container.running:
    - image: {tag}
    - command: {command}
    - labels: {{{label}: "{run}"}}
    - profile: {engine}
{between}
{second}:
  container.running:
    - image: {tag}
    - command: {command}
    - labels: {{{label}: "{run}"}}
    - profile: {engine}
    - require:
      - {after}
"""

RETAG = """
retag-{run}:
  cmd.run:
    - name: docker -H {host} tag {source} {tag}
    - require:
      - container: {first}
"""


@pytest.fixture
def other_image(engine):
    """A second image id (busybox plus a label) to move the tag to; removed afterwards."""
    client = engines.client(engine)
    tag = f"saltext-chain/sc-{RUN}-cache-other:1"
    dockerfile = io.BytesIO(f"FROM {BUSYBOX}\nLABEL {TEST_LABEL}={RUN}\n".encode())
    image, _ = client.images.build(fileobj=dockerfile, tag=tag, labels={TEST_LABEL: RUN})
    yield tag, image.id
    client.images.remove(tag, force=True)


def _apply(modules, engine, tag, between=""):
    after = f"cmd: retag-{RUN}" if between else f"container: {engines.name('cache-a')}"
    sls = SLS.format(
        after=after,
        first=engines.name("cache-a"),
        second=engines.name("cache-b"),
        between=between,
        tag=tag,
        label=TEST_LABEL,
        run=RUN,
        engine=engine,
        command=json.dumps(engines.stoppable("sleep 600")),
    )
    ret = modules.state.template_str(sls)
    by_id = {v["__id__"]: v for v in ret.raw.values()}
    assert all(v["result"] is True for v in by_id.values()), by_id
    return by_id


def test_a_tag_moved_by_another_state_mid_run_is_read_again(modules, engine, other_image):
    client = engines.client(engine)
    tag = f"saltext-chain/sc-{RUN}-cache:v"
    client.images.get(BUSYBOX).tag(tag)
    try:
        first = _apply(modules, engine, tag)
        old_id = client.images.get(tag).id
        assert {v["changes"]["container"]["old"] for v in first.values()} == {None}

        again = _apply(modules, engine, tag)
        assert [v["changes"] for v in again.values()] == [{}, {}]

        source, new_id = other_image
        between = RETAG.format(
            first=engines.name("cache-a"),
            run=RUN,
            host=engines.ENGINES[engine],
            source=source,
            tag=tag,
        )
        moved = _apply(modules, engine, tag, between=between)
        a, b = moved[engines.name("cache-a")], moved[engines.name("cache-b")]
        # The first state read the image before the retag: nothing to do.
        assert a["changes"] == {}, a
        # The second one must not reuse that read: the tag now names another image.
        assert b["changes"]["image_id"] == {"old": old_id, "new": new_id}, b
        assert "recreated" in b["comment"], b
        assert client.containers.get(engines.name("cache-b")).image.id == new_id
    finally:
        for name in ("cache-a", "cache-b"):
            try:
                client.containers.get(engines.name(name)).remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        client.images.remove(tag, force=True)

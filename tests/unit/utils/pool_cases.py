"""What the agent pool's unit tests build their cases from: a pool ``p`` of owner ``m1``, its
options, agent containers and Jenkins computers."""

from saltext.chain.utils import chain_agents_plan as plan

OWNER = "m1"
NOW = 10_000.0


def opts(**kw):
    return plan.pool_options("p", {"label": "linux", **kw})


def agent(node, state="running", created=NOW - 5, current=True):
    return {"container": node, "node": node, "state": state, "created": created, "current": current}


def comp(offline=False, idle=True, temp=False, builds=(), desc=None):
    return {
        "offline": offline,
        "idle": idle,
        "temporarily_offline": temp,
        "builds": list(builds),
        "description": plan.description("p", OWNER) if desc is None else desc,
    }

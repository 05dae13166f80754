"""JupyterHub configuration of the course's class (``make hub``; set up first with ``make hub-setup``).

Reads ``$HUB_PREFIX/hub.json`` (written by ``deploy/jupyterhub/hub_setup.py``; HUB_PREFIX defaults to
/opt/transformer-course). The hub runs as root on 127.0.0.1 (or hub.json's ``ip``), users log in with
their Unix password (PAM), and each user's server runs as that user (JupyterHub's LocalProcessSpawner)
from the shared environment, in their home; the instructors' servers run in the course repository with
the formgrader (``JUPYTER_CONFIG_PATH`` = the instructors' config folder). The proxy is the Python
configurable-http-proxy (requirements-hub.txt): no Node.js needed.
"""
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

PREFIX = Path(os.environ.get("HUB_PREFIX") or "/opt/transformer-course")
try:
    HUB = json.loads((PREFIX / "hub.json").read_text())
except OSError as exc:
    sys.exit(f"jupyterhub_config.py: {PREFIX}/hub.json is missing ({exc.strerror}): run `make hub-setup` first "
             "(or set HUB_PREFIX to the prefix it used)")
ENV = Path(HUB["env"])
STATE = Path(HUB["state"])
INSTRUCTORS = set(HUB["instructors"])

c.JupyterHub.ip = HUB["ip"]
c.JupyterHub.port = HUB["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = HUB["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{HUB['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [str(Path(sys.executable).with_name("configurable-http-proxy"))]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(HUB["students"]) | INSTRUCTORS
c.Authenticator.admin_users = INSTRUCTORS

# Each user's server: their own Unix user, the shared environment (not the instructor's .venv).
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENV / "bin" / "python"), "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a cold JupyterLab on a loaded machine
c.Spawner.start_timeout = 180
c.Spawner.environment = {
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "NBGRADER_EXCHANGE": HUB["exchange"],
}


def per_user(spawner):
    """Instructors: the formgrader (their config folder first) and the course repository as the served folder."""
    if spawner.user.name in INSTRUCTORS:
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": HUB["instructor_config"]}  # a copy: never the students' dict
        spawner.notebook_dir = HUB["course_dir"]


c.Spawner.pre_spawn_hook = per_user

"""Plugins "baked into the image": ``--plugin NAME:VERSION`` / ``--plugins-file plugins.txt``.

``pluginManager/api/json`` lists them with the ``@Exported`` fields of
``hudson/PluginWrapper.java``; ``plugin="name@version"`` attributes in config.xml use these
versions (``configxml.py``). The emulator loads no plugin code: a plugin only changes what the
API reports.
"""

LONG_NAMES = {
    "git": "Git plugin",
    "git-client": "Git client plugin",
    "workflow-job": "Pipeline: Job",
    "workflow-cps": "Pipeline: Groovy",
    "workflow-aggregator": "Pipeline",
    "cloudbees-folder": "Folders Plugin",
    "credentials": "Credentials Plugin",
    "credentials-binding": "Credentials Binding Plugin",
    "configuration-as-code": "Configuration as Code Plugin",
    "junit": "JUnit Plugin",
    "timestamper": "Timestamper",
    "ws-cleanup": "Workspace Cleanup Plugin",
    "parameterized-trigger": "Parameterized Trigger plugin",
    "docker-workflow": "Docker Pipeline",
    "docker-plugin": "Docker plugin",
    "ssh-slaves": "SSH Build Agents plugin",
    "command-launcher": "Command Agent Launcher Plugin",
    "matrix-auth": "Matrix Authorization Strategy Plugin",
    "matrix-project": "Matrix Project Plugin",
    "mailer": "Mailer Plugin",
    "email-ext": "Email Extension Plugin",
    "script-security": "Script Security Plugin",
    "structs": "Structs Plugin",
    "build-timeout": "Build Timeout",
    "ansicolor": "AnsiColor",
    "copyartifact": "Copy Artifact Plugin",
    "job-dsl": "Job DSL",
    "github": "GitHub plugin",
    "gradle": "Gradle Plugin",
    "ant": "Ant Plugin",
}


class PluginSpecError(ValueError):
    pass


def parse_spec(spec):
    """``name:version`` (jenkins-plugin-cli syntax; ``name:version:url`` keeps name and version)."""
    text = spec.split("#", 1)[0].strip()
    if not text:
        return None
    parts = text.split(":")
    name = parts[0].strip()
    version = parts[1].strip() if len(parts) > 1 else ""
    if not name or not version or version in ("latest", "experimental"):
        raise PluginSpecError(f"plugin {text!r}: a pinned NAME:VERSION is required")
    return name, version


def read_plugins_file(path):
    result = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parsed = parse_spec(line)
            if parsed:
                result.append(parsed)
    return result


class Plugins:
    def __init__(self, specs, core_version):
        self.plugins = {}
        self.core_version = core_version
        for name, version in specs:
            self.plugins[name] = version

    def versions(self):
        return dict(self.plugins)

    def plugin_json(self, name, version):
        return {
            "active": True,
            "backupVersion": None,
            "bundled": False,
            "deleted": False,
            "dependencies": [],
            "detached": False,
            "downgradable": False,
            "enabled": True,
            "hasUpdate": False,
            "longName": LONG_NAMES.get(name, name),
            "pinned": False,
            # PluginWrapper.getRequiredCoreVersion: the plugin manifest's Jenkins-Version, which a
            # declaration NAME:VERSION does not carry -> null (listed under known differences)
            "requiredCoreVersion": None,
            "shortName": name,
            "supportsDynamicLoad": "MAYBE",
            "url": f"https://plugins.jenkins.io/{name}",
            "version": version,
        }

    def manager_json(self, depth=0):
        items = []
        for name in sorted(self.plugins):
            if depth >= 1:
                items.append(self.plugin_json(name, self.plugins[name]))
            else:
                items.append({})
        return {"_class": "hudson.LocalPluginManager", "plugins": items}

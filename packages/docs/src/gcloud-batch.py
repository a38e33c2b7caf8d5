"""Runs gcloud commands as `gcloud ARGS…` would, with gcloud loaded once for all of them.

gcloud spends about a second of CPU loading itself before it reads its arguments, and the
READMEs hold some fifty commands. This loads gcloud from its own entry point (lib/gcloud.py
in the SDK whose root is the first argument) once, then runs each command in a fork of this
process, in its own configuration and working directory.

Input: one JSON object per line, {"args": [...], "configDir": "...", "cwd": "..."}.
Output: one JSON object per line, in the same order, {"code": N, "output": "..."}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "lib"))
sys.argv = ["gcloud"]

import gcloud  # noqa: E402  (what gcloud's main() does before it runs a command)

sys.path = gcloud.reorder_sys_path(sys.path)
gcloud._fix_google_module()
gcloud_main = gcloud._import_gcloud_main()
cli = gcloud_main.CreateCLI([])


def run(job):
    """The command in a child of this process: its exit code and what it printed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the next commands' lines are not its input
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.chdir(job["cwd"])
        os.environ["CLOUDSDK_CONFIG"] = job["configDir"]
        sys.argv = ["gcloud", *job["args"]]
        code = 0
        try:
            gcloud_main.main(gcloud_cli=cli)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (exit.code is not None)
        except BaseException as error:  # noqa: BLE001  (said, as gcloud would crash)
            print(f"gcloud crashed: {error!r}", file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return {
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status),
        "output": b"".join(chunks).decode("utf-8", "replace"),
    }


for line in sys.stdin:
    print(json.dumps(run(json.loads(line))), flush=True)

"""A minimal Chrome DevTools Protocol client for the browser tests, standard library only.

Chromium is started with --remote-debugging-pipe: it reads commands from its fd 3 and
writes replies and events to its fd 4, each message one JSON object ended by a NUL byte.
This needs no websocket library and no TCP port. Page-level commands go to a flat
session attached to the initial about:blank tab.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import time

CHROMIUM = os.environ.get("SLUICE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic", "--hide-scrollbars", "--window-size=1280,900"]


class BrowserError(AssertionError):
    """Chromium could not start, answered with an error, or did not answer in time."""


class Chromium:
    """One headless Chromium process driven over the DevTools pipe."""

    def __init__(self, workdir, timeout=30.0):
        """Starts Chromium with its profile, HOME and stderr log under workdir (which must
        exist and be empty); fails with BrowserError when it cannot be driven."""
        self.workdir = os.path.abspath(workdir)
        profile, home = os.path.join(self.workdir, "profile"), os.path.join(self.workdir, "home")
        os.mkdir(profile)
        os.mkdir(home)
        self.stderr_path = os.path.join(self.workdir, "chromium-stderr.log")
        if not os.access(CHROMIUM, os.X_OK):
            raise BrowserError(f"{CHROMIUM} not found: apt-get install -y chromium")
        cmd_r, self._cmd_w = _pipe_above(10)   # we write commands, Chromium reads fd 3
        self._evt_r, evt_w = _pipe_above(10)   # Chromium writes fd 4, we read
        # posix_spawn dup2()s the pipe ends onto 3 and 4 (clearing close-on-exec there);
        # every other descriptor Python opened is close-on-exec and stays behind.
        # setsid puts Chromium and its helpers in one process group we can reap.
        err = _above(os.open(self.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 10)
        null = _above(os.open(os.devnull, os.O_RDWR), 10)
        try:
            self.pid = os.posix_spawn(
                CHROMIUM,
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                 "--remote-debugging-pipe", "about:blank"],
                dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                     XDG_CACHE_HOME=os.path.join(home, ".cache")),
                file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                              (os.POSIX_SPAWN_DUP2, err, 2), (os.POSIX_SPAWN_DUP2, cmd_r, 3),
                              (os.POSIX_SPAWN_DUP2, evt_w, 4)],
                setsid=True)
        finally:
            for fd in (err, null, cmd_r, evt_w):
                os.close(fd)
        self.returncode = None
        self._buf = b""
        self._next_id = 0
        self.events = []
        self.session = None
        try:
            targets = self.call("Target.getTargets", timeout=timeout)["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                     flatten=True)["sessionId"]
        except BaseException:
            self.close()
            raise

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for a DevTools message")
            ready, _, _ = select.select([self._evt_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._evt_r, 1 << 20)
            if not chunk:
                self.wait(5)
                raise BrowserError(f"Chromium closed the DevTools pipe (exit status "
                                   f"{self.poll()}):\n{self.stderr()[-3000:]}")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, timeout=30.0, browser=None, **params):
        """Sends a command (to the page session unless browser=True or there is none yet)
        and returns its result; events that arrive meanwhile are queued in self.events."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if self.session and not browser:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._cmd_w, data):]
        except BrokenPipeError:
            raise BrowserError(f"Chromium is not reading the DevTools pipe (exit status "
                               f"{self.poll()}):\n{self.stderr()[-3000:]}") from None
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method, timeout=30.0, where=lambda params: True):
        """Returns the params of the first queued or incoming event `method` for which
        where(params) holds, consuming it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method and where(ev["params"]):
                    del self.events[i]
                    return ev["params"]
            try:
                msg = self._read_message(deadline)
            except BrowserError as e:
                raise BrowserError(f"waiting for {method}: {e}") from None
            if "method" in msg:
                self.events.append(msg)

    def navigate(self, url, timeout=30.0):
        """Opens url in the tab and waits for its load event."""
        self.events.clear()
        result = self.call("Page.navigate", url=url, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired", timeout=timeout)

    def evaluate(self, expression, timeout=30.0):
        """The JSON value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, timeout=30.0):
        """PNG bytes of the whole page, not just the viewport."""
        size = self.call("Page.getLayoutMetrics", timeout=timeout)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True, timeout=timeout)["data"]
        return base64.b64decode(data)

    def poll(self):
        """Chromium's exit status, or None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout):
        """Waits up to timeout seconds for Chromium to exit; returns whether it did."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def leftover_pids(self):
        """Live Chromium processes (argv[0] chrom*) in Chromium's process group or whose
        command line names workdir (crashpad handlers start their own session)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (self.pid, os.getpid()):
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            state, pgid = fields[0], int(fields[2])
            if state == "Z" or not os.path.basename(cmdline.split(b"\0")[0]).startswith(b"chrom"):
                continue
            if pgid == self.pid or self.workdir.encode() in cmdline:
                found.append(int(entry))
        return found

    def close(self):
        """Asks Chromium to quit (Browser.close, then SIGTERM, then SIGKILL), reaps it, and
        makes sure none of its helper processes is left."""
        if self.poll() is None:
            try:
                self.call("Browser.close", timeout=5, browser=True)
            except (BrowserError, OSError):
                pass
            if not self.wait(10):
                os.kill(self.pid, signal.SIGTERM)
                if not self.wait(10):
                    os.kill(self.pid, signal.SIGKILL)
                    self.wait(60)
        # Helpers (zygote, renderers) stay in Chromium's process group and crashpad
        # handlers (own session) name our HOME; all exit shortly after the browser.
        deadline = time.monotonic() + 5
        while leftovers := self.leftover_pids():
            if time.monotonic() > deadline:
                for pid in leftovers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                break
            time.sleep(0.05)
        for fd in (self._cmd_w, self._evt_r):
            os.close(fd)


def _above(fd, low):
    """Moves fd to a close-on-exec descriptor >= low, so the dup2()s onto 0-4 at spawn
    time cannot overwrite one source with another."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return new


def _pipe_above(low):
    """A close-on-exec pipe whose fds are >= low, so dup2 onto 3 and 4 cannot clobber them."""
    r, w = os.pipe()
    return _above(r, low), _above(w, low)

"""Self-made labelled sketches of log styles that are *not* in ../shared (a proxy, a health app, sshd,
an OpenStack-like cloud, a Windows servicing log, a desktop kernel log, Android framework logs, cluster
syslog), for a quick check of template accuracy on unseen styles.

    python benchmarks/unseen_sketches.py OUT_DIR [--lines 2000] [--seed 7]
    python benchmarks/parsing_accuracy.py --data OUT_DIR --engine python

Writes ``OUT_DIR/<Name>/<Name>_2k.log`` (an ISO date and time, then the message: layout
``<Date> <Time> <Content>``), its
``_structured.csv`` (LineId, EventTemplate with ``<*>`` where loghub's labelling convention puts a
variable) and ``formats.json``. Each sketch imitates the *shape* of a public system's messages as
remembered from its public samples, written before measuring; they are no substitute for the real
data: the shapes, value pools and template mix are guesses, and whoever writes the masks also wrote
these, so a high score here is weak evidence (docs/templates.md says how it was used).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import string

USERS = ["root", "admin", "test", "oracle", "guest", "user", "ftp", "postgres", "pi", "ubuntu", "git", "mysql",
         "support", "info", "webmaster", "nagios", "hadoop", "tomcat", "jenkins", "backup", "demo", "alex", "michael"]
HOSTS = ["proxy.cse.cuhk.edu.hk", "www.google.com", "play.google.com", "ssl.gstatic.com", "mail.qq.com",
         "clients4.google.com", "api.weibo.cn", "update.microsoft.com", "cdn.example.net", "s.youtube.com",
         "dl.dropboxusercontent.com", "pagead2.googlesyndication.com", "www.baidu.com", "login.live.com",
         "static.xx.fbcdn.net", "detectportal.firefox.com", "ocsp.digicert.com", "www.bing.com"]
PROGS = ["chrome.exe", "firefox.exe", "putty.exe", "WeChat.exe", "QQ.exe", "svchost.exe", "Dropbox.exe"]
APPS = ["com.android.systemui", "com.tencent.mm", "com.huawei.health", "com.android.phone", "android", "com.google.gms"]
WORDS = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango", "zulu", "sierra", "romeo", "victor"]


def ip(r):
    return ".".join(str(r.randint(1, 254)) for _ in range(4))


def hexs(r, n):
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def uuid(r):
    return "-".join(hexs(r, n) for n in (8, 4, 4, 4, 12))


def num(r, a=0, b=99999):
    return str(r.randint(a, b))


def kb(r):
    return f"{r.uniform(0, 900):.2f} {r.choice(['KB', 'MB'])}"


def word(r, n=8):
    return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(3, n)))


# name -> [(weight, truth template, generator)]
SKETCHES = {
    "ProxyLike": [
        (30, "<*> open through proxy <*> HTTPS",
         lambda r: f"{r.choice(HOSTS)}:{r.choice([443, 80, 5070])} open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS"),
        (10, "<*> open through proxy <*> SOCKS5",
         lambda r: f"{ip(r)}:{num(r, 1, 65535)} open through proxy socks.cse.cuhk.edu.hk:5070 SOCKS5"),
        (30, "<*> close, <*> bytes sent, <*> bytes received, lifetime <*>",
         lambda r: f"{r.choice(HOSTS)}:443 close, {num(r, 0, 999)} bytes sent, {num(r, 0, 999)} bytes received, "
                   f"lifetime {r.choice(['<1 sec', '00:01', '02:13', '15:07'])}"),
        (20, "<*> close, <*> bytes (<*>) sent, <*> bytes (<*>) received, lifetime <*>",
         lambda r: f"{r.choice(HOSTS)}:443 close, {num(r, 1000)} bytes ({kb(r)}) sent, {num(r, 1000)} bytes "
                   f"({kb(r)}) received, lifetime {r.choice(['00:01', '02:13', '15:07', '1 sec'])}"),
        (8, "<*> error : Could not connect through proxy <*> - Proxy server cannot establish a connection with the "
            "target, status code <*>",
         lambda r: f"{r.choice(HOSTS)}:443 error : Could not connect through proxy proxy.cse.cuhk.edu.hk:5070 - "
                   f"Proxy server cannot establish a connection with the target, status code {r.choice([403, 502])}"),
        (4, "<*> error : A connection request was canceled before the completion.",
         lambda r: f"{r.choice(HOSTS)}:80 error : A connection request was canceled before the completion."),
        (3, "Resolved proxy server <*> to <*>", lambda r: f"Resolved proxy server {r.choice(HOSTS)} to {ip(r)}"),
    ],
    "HealthLike": [
        (20, "onStandStepChanged <*>", lambda r: f"onStandStepChanged {num(r)}"),
        (15, "onExtend:<*> <*> <*> <*>", lambda r: f"onExtend:{num(r, 10**12, 10**13)} {num(r, 0, 20)} 0 {num(r, 0, 9)}"),
        (10, "setTodayTotalDetailSteps=<*>",
         lambda r: "setTodayTotalDetailSteps=" + "##".join(num(r) for _ in range(6))),
        (10, "calculateCaloriesWithCache totalCalories=<*>", lambda r: f"calculateCaloriesWithCache totalCalories={num(r)}"),
        (10, "REPORT : <*> <*> <*> <*>", lambda r: f"REPORT : {num(r)} {num(r)} {num(r)} {num(r)}"),
        (8, "flush sensor data", lambda r: "flush sensor data"),
        (8, "processHandleBroadcastAction action:<*>",
         lambda r: "processHandleBroadcastAction action:android.intent.action." + r.choice(
             ["SCREEN_ON", "SCREEN_OFF", "TIME_TICK", "USER_PRESENT", "BATTERY_CHANGED"])),
        (6, "screen status unknown,think screen on", lambda r: "screen status unknown,think screen on"),
        (6, "upLoadOneMinuteDataToEngine time = <*>", lambda r: f"upLoadOneMinuteDataToEngine time = {num(r)}"),
        (5, "isScreenOn=<*>", lambda r: f"isScreenOn={r.choice(['true', 'false'])}"),
        (5, "getTodayTotalDetailSteps = <*>",
         lambda r: "getTodayTotalDetailSteps = " + "##".join(num(r) for _ in range(6))),
    ],
    "SshLike": [
        (20, "Failed password for invalid user <*> from <*> port <*> ssh2",
         lambda r: f"Failed password for invalid user {r.choice(USERS)} from {ip(r)} port {num(r, 1024, 65535)} ssh2"),
        (15, "Failed password for <*> from <*> port <*> ssh2",
         lambda r: f"Failed password for {r.choice(USERS[:6])} from {ip(r)} port {num(r, 1024, 65535)} ssh2"),
        (15, "Invalid user <*> from <*>", lambda r: f"Invalid user {r.choice(USERS)} from {ip(r)}"),
        (12, "input_userauth_request: invalid user <*> [preauth]",
         lambda r: f"input_userauth_request: invalid user {r.choice(USERS)} [preauth]"),
        (10, "pam_unix(sshd:auth): authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*>",
         lambda r: f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip(r)}"),
        (8, "pam_unix(sshd:auth): authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*> user=<*>",
         lambda r: f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                   f"rhost={ip(r)}  user={r.choice(USERS[:5])}"),
        (8, "Received disconnect from <*>: <*>: Bye Bye [preauth]",
         lambda r: f"Received disconnect from {ip(r)}: 11: Bye Bye [preauth]"),
        (6, "Connection closed by <*> [preauth]", lambda r: f"Connection closed by {ip(r)} [preauth]"),
        (5, "reverse mapping checking getaddrinfo for <*> [<*>] failed - POSSIBLE BREAK-IN ATTEMPT!",
         lambda r: f"reverse mapping checking getaddrinfo for {ip(r).replace('.', '-')}.static.{r.choice(['linode.com', 'hinet.net', 'chinanet.cn'])} [{ip(r)}] failed - POSSIBLE BREAK-IN ATTEMPT!"),
        (4, "Accepted password for <*> from <*> port <*> ssh2",
         lambda r: f"Accepted password for {r.choice(['fztu', 'curi', 'root'])} from {ip(r)} port {num(r, 1024, 65535)} ssh2"),
        (4, "PAM <*> more authentication failures; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*> user=<*>",
         lambda r: f"PAM {num(r, 1, 5)} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
                   f"rhost={ip(r)}  user=root"),
        (3, "pam_unix(sshd:session): session opened for user <*> by (uid=<*>)",
         lambda r: f"pam_unix(sshd:session): session opened for user {r.choice(['fztu', 'curi'])} by (uid=0)"),
    ],
    "CloudLike": [
        (30, '<*> "GET <*>" status: <*> len: <*> time: <*>',
         lambda r: f'{ip(r)} "GET /v2/{hexs(r, 32)}/servers/detail HTTP/1.1" status: 200 len: {num(r, 200, 2000)} '
                   f'time: {r.uniform(0, 1):.7f}'),
        (8, '<*> "POST <*>" status: <*> len: <*> time: <*>',
         lambda r: f'{ip(r)} "POST /v2/{hexs(r, 32)}/os-server-external-events HTTP/1.1" status: 200 len: '
                   f'{num(r, 200, 2000)} time: {r.uniform(0, 1):.7f}'),
        (10, "[instance: <*>] VM <*> (Lifecycle Event)",
         lambda r: f"[instance: {uuid(r)}] VM {r.choice(['Started', 'Stopped', 'Paused', 'Resumed'])} (Lifecycle Event)"),
        (8, "[instance: <*>] Took <*> seconds to destroy the instance on the hypervisor.",
         lambda r: f"[instance: {uuid(r)}] Took {r.uniform(0, 9):.2f} seconds to destroy the instance on the hypervisor."),
        (8, "Active base files: <*>", lambda r: f"Active base files: /var/lib/nova/instances/_base/{hexs(r, 40)}"),
        (6, "image <*> at (<*>): checking",
         lambda r: f"image {uuid(r)} at (/var/lib/nova/instances/_base/{hexs(r, 40)}): checking"),
        (6, "Compute_service record updated for <*>",
         lambda r: "Compute_service record updated for " + (lambda h: f"{h}:{h}")(
             f"cp-{num(r, 1, 9)}.slowvm1.tcloud-pg0.utah.cloudlab.us")),
        (6, "[instance: <*>] Claim successful", lambda r: f"[instance: {uuid(r)}] Claim successful"),
        (6, "[instance: <*>] Total memory: <*> MB, used: <*> MB",
         lambda r: f"[instance: {uuid(r)}] Total memory: {num(r, 1000, 99999)} MB, used: {r.uniform(0, 9999):.2f} MB"),
        (4, "Successfully synced instances from host '<*>'.",
         lambda r: f"Successfully synced instances from host 'cp-{num(r, 1, 9)}.slowvm1.tcloud-pg0.utah.cloudlab.us'."),
    ],
    "ServicingLike": [
        (15, "Loaded Servicing Stack v<*> with Core: <*>",
         lambda r: f"Loaded Servicing Stack v6.1.7601.{num(r, 10000, 29999)} with Core: C:\\Windows\\winsxs\\"
                   f"amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1.7601.{num(r)}_none_{hexs(r, 16)}\\cbscore.dll"),
        (15, "Session: <*> initialized by client <*>.",
         lambda r: f"Session: {num(r, 10**7, 10**8)}_{num(r, 10**9, 4 * 10**9)} initialized by client "
                   f"{r.choice(['WindowsUpdateAgent', 'DRUP'])}."),
        (15, "Read out cached package applicability for package: <*>, ApplicableState: <*>, CurrentState:<*>",
         lambda r: f"Read out cached package applicability for package: Package_for_KB{num(r, 10**6, 10**7)}"
                   f"~31bf3856ad364e35~amd64~~6.1.{num(r, 1, 9)}.{num(r, 0, 9)}, ApplicableState: 112, CurrentState:112"),
        (10, "Warning: Unrecognized packageExtended attribute.", lambda r: "Warning: Unrecognized packageExtended attribute."),
        (8, "Expecting attribute name [HRESULT = <*> - CBS_E_MANIFEST_INVALID_ITEM]",
         lambda r: "Expecting attribute name [HRESULT = 0x800f080d - CBS_E_MANIFEST_INVALID_ITEM]"),
        (8, "Failed to get next element [HRESULT = <*> - CBS_E_MANIFEST_INVALID_ITEM]",
         lambda r: "Failed to get next element [HRESULT = 0x800f080d - CBS_E_MANIFEST_INVALID_ITEM]"),
        (6, "SQM: Initializing online with Windows opt-in: <*>",
         lambda r: f"SQM: Initializing online with Windows opt-in: {r.choice(['False', 'True'])}"),
        (6, "Starting TrustedInstaller initialization.", lambda r: "Starting TrustedInstaller initialization."),
        (6, "Ending TrustedInstaller initialization.", lambda r: "Ending TrustedInstaller initialization."),
        (5, "CSI Store <*> (<*>) initialized",
         lambda r: f"CSI Store {num(r, 10**6, 10**7)} (0x{hexs(r, 16)}) initialized"),
        (4, "SQM: Cleaning up report files older than <*> days.", lambda r: "SQM: Cleaning up report files older than 10 days."),
        (4, "Unloading offline registry hive: <*>",
         lambda r: f"Unloading offline registry hive: {{{uuid(r)}}}GLOBALROOT/Device/HarddiskVolumeShadowCopy"
                   f"{num(r, 1, 9)}/Windows/System32/config/SOFTWARE"),
    ],
    "DesktopLike": [
        (15, "ARPT: <*>: AirPort: Link Down on awdl0. Reason <*> (Unspecified).",
         lambda r: f"ARPT: {num(r, 10**5, 10**6)}.{num(r, 10**5, 10**6 - 1)}: AirPort: Link Down on awdl0. Reason 1 (Unspecified)."),
        (12, "en0: channel changed to <*>", lambda r: f"en0: channel changed to {r.choice([1, 6, 11, 132, 149])},{r.choice(['+1', '-1'])}"),
        (10, "Wake reason: <*>", lambda r: f"Wake reason: {r.choice(['RTC (Alarm)', 'EC.LidOpen (User)', 'ARPT (Network)'])}"),
        (10, "com.apple.CDScheduler: Thermal pressure state: <*> Memory pressure state: <*>",
         lambda r: f"com.apple.CDScheduler: Thermal pressure state: {num(r, 0, 1)} Memory pressure state: {num(r, 0, 1)}"),
        (10, "USBMSC Identifier (non-unique): <*> <*> <*> <*>, <*>",
         lambda r: f"USBMSC Identifier (non-unique): 000000000820 0x5ac 0x{hexs(r, 4)} 0x820, {num(r, 1, 3)}"),
        (10, "PM response took <*> ms (<*>, <*>)",
         lambda r: f"PM response took {num(r, 1, 9999)} ms ({num(r, 10, 99)}, {r.choice(['powerd', 'mds', 'WindowServer', 'coreaudiod'])})"),
        (8, "Setting BTCoex Config: enable_2G:<*>, profile_2g:<*>, enable_5G:<*>, profile_5G:<*>",
         lambda r: f"Setting BTCoex Config: enable_2G:1, profile_2g:0, enable_5G:{num(r, 0, 1)}, profile_5G:0"),
        (8, "Bluetooth -- LE is supported - Disable LE meta event",
         lambda r: "Bluetooth -- LE is supported - Disable LE meta event"),
        (6, "Sandbox: <*>(<*>) deny(<*>) mach-lookup com.apple.<*>",
         lambda r: f"Sandbox: {r.choice(['QQ', 'WeChat', 'Safari'])}({num(r, 100, 9999)}) deny(1) mach-lookup "
                   f"com.apple.{r.choice(['coreservices.appleevents', 'windowserver.active', 'hiservices-xpcservice'])}"),
    ],
    "AndroidLike": [
        (15, "acquire lock=<*>, flags=<*>, tag=\"<*>\", name=<*>, ws=<*>, uid=<*>, pid=<*>",
         lambda r: f"acquire lock={num(r, 10**8, 10**9)}, flags=0x1, tag=\"{r.choice(['View Lock', 'WindowManager', 'RILJ_ACK_WL'])}\", "
                   f"name={r.choice(APPS)}, ws=null, uid={num(r, 1000, 10100)}, pid={num(r, 100, 9999)}"),
        (15, "release lock=<*>, flg=<*>, tag=\"<*>\", name=<*>, ws=<*>, uid=<*>, pid=<*>",
         lambda r: f"release lock={num(r, 10**8, 10**9)}, flg=0x0, tag=\"{r.choice(['View Lock', 'WindowManager', 'RILJ_ACK_WL'])}\", "
                   f"name={r.choice(APPS)}, ws=null, uid={num(r, 1000, 10100)}, pid={num(r, 100, 9999)}"),
        (12, "Skipping AppWindowToken{<*> token=Token{<*> ActivityRecord{<*> u0 <*> t<*>}}} -- going to hide",
         lambda r: f"Skipping AppWindowToken{{{hexs(r, 7)} token=Token{{{hexs(r, 7)} ActivityRecord{{{hexs(r, 7)} u0 "
                   f"{r.choice(APPS)}/.{r.choice(['MainActivity', 'PlayerActivity', 'LauncherUI'])} t{num(r, 1, 999)}}}}}}} -- going to hide"),
        (10, "Screen frozen for <*> due to AppWindowToken{<*> token=Token{<*> ActivityRecord{<*> u0 <*> t<*>}}}",
         lambda r: f"Screen frozen for +{num(r, 1, 2)}s{num(r, 1, 999)}ms due to AppWindowToken{{{hexs(r, 7)} token=Token{{{hexs(r, 7)} "
                   f"ActivityRecord{{{hexs(r, 7)} u0 {r.choice(APPS)}/.MainActivity t{num(r, 1, 999)}}}}}}}"),
        (10, "getRingerModeInternal", lambda r: "getRingerModeInternal"),
        (10, "setSystemUiVisibility vis=<*> mask=<*> oldVal=<*> newVal=<*> diff=<*>",
         lambda r: f"setSystemUiVisibility vis={num(r, 0, 9999)} mask=ffffffff oldVal={num(r, 0, 9999)} "
                   f"newVal={num(r, 0, 9999)} diff={num(r, 0, 9999)}"),
        (8, "interceptKeyBeforeQueueing: key <*> , result : <*>",
         lambda r: f"interceptKeyBeforeQueueing: key {num(r, 1, 300)} , result : {num(r, 0, 1)}"),
        (6, "cleanUpApplicationRecord -- <*>", lambda r: f"cleanUpApplicationRecord -- {num(r, 100, 30000)}"),
        (6, "Start proc <*>:<*>/<*> for service <*>",
         lambda r: f"Start proc {num(r, 100, 30000)}:{r.choice(APPS)}/u0a{num(r, 1, 200)} for service {r.choice(APPS)}/.Svc"),
    ],
    "ClusterSyslogLike": [
        (15, "DHCPDISCOVER from <*> via eth<*>",
         lambda r: f"DHCPDISCOVER from {':'.join(hexs(r, 2) for _ in range(6))} via eth{num(r, 0, 1)}"),
        (15, "DHCPOFFER on <*> to <*> via eth<*>",
         lambda r: f"DHCPOFFER on {ip(r)} to {':'.join(hexs(r, 2) for _ in range(6))} via eth{num(r, 0, 1)}"),
        (12, "session opened for user <*> by (uid=<*>)",
         lambda r: f"session opened for user {r.choice(['root', 'nobody'])} by (uid=0)"),
        (12, "session closed for user <*>", lambda r: f"session closed for user {r.choice(['root', 'nobody'])}"),
        (10, "(root) CMD (run-parts <*>)",
         lambda r: f"(root) CMD (run-parts /etc/cron.{r.choice(['hourly', 'daily', 'weekly'])})"),
        (8, "synchronized to <*>, stratum <*>", lambda r: f"synchronized to {ip(r)}, stratum {num(r, 1, 4)}"),
        (8, "Connection from <*> port <*>", lambda r: f"Connection from {ip(r)} port {num(r, 1024, 65535)}"),
        (6, "ib_sm_sweep.c:<*>: Sweep took <*> ms", lambda r: f"ib_sm_sweep.c:{num(r, 100, 2000)}: Sweep took {num(r, 1, 999)} ms"),
        (6, "kernel: Out of Memory: Killed process <*> (<*>).",
         lambda r: f"kernel: Out of Memory: Killed process {num(r, 100, 30000)} ({r.choice(['java', 'python', 'mpirun', 'sshd'])})."),
        (4, "Accepted publickey for <*> from <*> port <*> ssh2",
         lambda r: f"Accepted publickey for {r.choice(['root', 'admin', 'tbird-admin'])} from {ip(r)} port {num(r, 1024, 65535)} ssh2"),
    ],
}


def write(out_dir: str, lines: int = 2000, seed: int = 7) -> dict:
    formats = {"_about": "self-made sketches of unseen log styles, benchmarks/unseen_sketches.py"}
    for name, templates in SKETCHES.items():
        r = random.Random(f"{seed}-{name}")
        weights = [w for w, _, _ in templates]
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{name}_2k.log"), "w", encoding="utf-8", newline="\n") as log, \
                open(os.path.join(d, f"{name}_2k.log_structured.csv"), "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["LineId", "EventTemplate"])
            for i in range(1, lines + 1):
                _, truth, gen = r.choices(templates, weights)[0]
                log.write(f"2026-12-02 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} {gen(r)}\n")
                out.writerow([i, truth])
        formats[name] = "<Date> <Time> <Content>"
    with open(os.path.join(out_dir, "formats.json"), "w", encoding="utf-8") as fh:
        json.dump(formats, fh, indent=1)
    return formats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--lines", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    names = [n for n in write(args.out_dir, args.lines, args.seed) if not n.startswith("_")]
    print(f"wrote {len(names)} sketches to {args.out_dir}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

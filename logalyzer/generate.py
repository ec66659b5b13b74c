"""Deterministic synthetic fleet of Android-TV set-top-box logs, for tests, demos and benchmarks.

`generate_fleet` writes gzip'd `logcat -v threadtime` files for N devices x D days: realistic logcat
noise, VAR (Video/Audio Rendering) player events, injected anomalies with a ground-truth
`labels.csv`, and a deliberate sprinkle of bad input (a truncated gzip, an empty file, a plain-text
file, garbage / non-UTF-8 / over-long lines). Same arguments => byte-identical files. Standard
library only. Formats: docs/var_format.md.
"""
from __future__ import annotations

import base64
import bisect
import datetime as dt
import gzip
import hashlib
import json
import math
import multiprocessing
import os
import random
import time

__all__ = ["generate_fleet", "add_arguments", "run", "device_id", "THREADTIME_RE", "VAR_RE"]

# Regexes the tests (and anyone else) can use; documented in docs/var_format.md.
THREADTIME_RE = (r"^(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) +(\d+) +(\d+) "
                 r"([VDIWEF]) (\S+?) *: (.*)$")
VAR_RE = r"^\[([A-Z]+)\] ([A-Za-z]+)\(\) ([A-Za-z_]+) (\{.*\})$"

SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR

ANOMALY_TYPES = ("freeze_storm", "black_screen_loop", "hdmi_flapping", "crash_reboot_loop")
ANOMALY_RATE = 0.15          # share of device-days that get one injected anomaly
VAR_SHARE = 0.16             # target share of VAR lines at the default volume (sets the zapping rate)
OUT_OF_ORDER_RATE = 0.001
DUPLICATE_RATE = 0.0005
CORRUPT_NN, EMPTY_NN = 99, 98
_CHUNK = 20000               # lines formatted/compressed per write


def _seed(*parts) -> int:
    """A stable 64-bit seed from parts (never Python's salted hash())."""
    return int.from_bytes(hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class _Rng(random.Random):
    """random.Random with cheaper randint/choice (one random() call each; still fully deterministic)."""

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


def device_id(index: int) -> str:
    """Receiver id of the index-th device (0-based): `R` + 10 digits, e.g. R0000000001."""
    return "R%010d" % (index + 1)


def first_device_for(out_dir: str) -> int:
    """The `generate` command's first device number for an output folder: one of 98,999 blocks of
    100,000 ids picked by the folder's path, never block 0 (ids from 1, the library default, which
    `logalyzer run` uses for its sample). Two outputs ingested into one lake (`run`'s sample, then
    `generate --out data/fleet`) so hold different devices instead of the same ids logging twice."""
    key = os.path.normpath(out_dir)
    block = 1 + int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 98_999
    return block * 100_000 + 1


# --------------------------------------------------------------------------------------------
# Static vocabulary
# --------------------------------------------------------------------------------------------
CHANNELS = [  # (name, uri); a few non-ASCII names on purpose (valid UTF-8)
    ("HBO HD", "dvb://318.1.5"), ("CNN International", "dvb://318.1.12"),
    ("BBC One HD", "dvb://233a.1041.1044"), ("Eurosport 1", "dvb://1.1003.3"),
    ("Discovery Channel", "dvb://318.1.21"), ("National Geographic", "dvb://318.1.22"),
    ("MTV Hits", "dvb://318.2.40"), ("Cartoon Network", "dvb://318.2.51"),
    ("Arte Français", "dvb://1.1100.6"), ("TF1 HD", "dvb://20fa.1.1"), ("France 2", "dvb://20fa.1.2"),
    ("Canal+ Décalé", "dvb://20fa.3.15"), ("RTL Télé", "dvb://1.1101.7"), ("ZDF HD", "dvb://1.1079.11110"),
    ("Das Erste HD", "dvb://1.1019.10301"), ("Sky News", "dvb://2.2050.4704"),
    ("Al Jazeera English", "dvb://318.3.60"), ("Euronews", "dvb://318.3.61"),
    ("Nickelodeon", "dvb://318.2.52"), ("Disney Channel", "dvb://318.2.53"), ("ESPN", "dvb://318.4.70"),
    ("Fox Sports 1", "dvb://318.4.71"), ("Comedy Central", "dvb://318.2.44"), ("History", "dvb://318.1.23"),
    ("Animal Planet", "dvb://318.1.24"), ("TLC", "dvb://318.1.25"), ("Bloomberg TV", "dvb://318.3.62"),
    ("CNBC", "dvb://318.3.63"), ("Operator Sports Live", "https://live.operator.tv/hls/sports1/master.m3u8"),
    ("Operator Kids", "https://live.operator.tv/hls/kids/master.m3u8"),
    ("Operator News 24", "https://live.operator.tv/hls/news24/master.m3u8"),
    ("Rai 1 HD", "dvb://13e.5000.3401"),
]
PKGS = [("com.google.android.youtube.tv", 10087), ("com.netflix.ninja", 10091),
        ("com.amazon.amazonvideo.livingroom", 10093), ("com.disney.disneyplus", 10095),
        ("com.operator.tvplayer", 10057), ("com.google.android.tvlauncher", 10034),
        ("com.android.vending", 10021), ("com.google.android.gms", 10012), ("com.spotify.tv.android", 10102),
        ("com.plexapp.android", 10110), ("com.google.android.katniss", 10040),
        ("com.android.tv.settings", 1000), ("tv.twitch.android.app", 10120),
        ("com.google.android.apps.tv.launcherx", 10036)]
MODELS = ["DV8555-KSO", "UIW4020", "SEI500", "DIW387", "VIP5202"]
CODECS = ["OMX.amlogic.avc.decoder.awesome2", "OMX.amlogic.hevc.decoder.awesome2", "c2.amlogic.avc.decoder",
          "OMX.amlogic.mpeg2.decoder.awesome2", "c2.android.aac.decoder", "OMX.google.raw.decoder"]
RESOLUTIONS = [(1920, 1080), (1280, 720), (3840, 2160), (720, 576)]
HOSTS = ["api.operator.tv", "cdn.operator.tv", "epg.operator.tv", "www.googleapis.com",
         "android.clients.google.com", "occ-0-768-769.1.nflxso.net", "play.googleapis.com"]
PATHS = ["/epg/v2/channels", "/epg/v2/grid", "/live/hbo/seg-%d.ts", "/youtubei/v1/browse", "/license/widevine",
         "/v1/devices/config", "/api/v3/recommendations", "/manifest/%d.mpd"]
SERVICES = ["logd", "servicemanager", "hwservicemanager", "vold", "netd", "surfaceflinger", "audioserver",
            "mediaserver", "media.codec", "wificond", "wpa_supplicant", "lmkd", "zygote", "bootanim",
            "tvserver", "hdmicecd", "keystore2", "statsd", "cameraserver", "incidentd"]
SYS_SERVICES = ["PowerManagerService", "ActivityManagerService", "PackageManagerService", "WindowManagerService",
                "InputManagerService", "ConnectivityService", "WifiService", "TvInputManagerService",
                "HdmiControlService", "AudioService", "MediaSessionService", "JobSchedulerService",
                "StorageManagerService", "UsageStatsService", "NetworkPolicyManagerService"]
EXCEPTIONS = [
    ("java.lang.IllegalStateException", "MediaCodec released while in state EXECUTING"),
    ("java.lang.NullPointerException",
     "Attempt to invoke virtual method 'int android.view.Surface.getGenerationId()' on a null object reference"),
    ("android.media.MediaCodec$CodecException", "Error 0xffffffea"),
    ("java.lang.OutOfMemoryError",
     "Failed to allocate a 33177612 byte allocation with 8388608 free bytes and 13MB until OOM"),
]
STACK = ["android.media.MediaCodec.native_dequeueOutputBuffer(Native Method)",
         "android.media.MediaCodec.dequeueOutputBuffer(MediaCodec.java:3421)",
         "com.google.android.exoplayer2.mediacodec.MediaCodecRenderer.drainOutputBuffer(MediaCodecRenderer.java:1868)",
         "com.google.android.exoplayer2.mediacodec.MediaCodecRenderer.render(MediaCodecRenderer.java:824)",
         "com.google.android.exoplayer2.ExoPlayerImplInternal.doSomeWork(ExoPlayerImplInternal.java:1008)",
         "com.google.android.exoplayer2.ExoPlayerImplInternal.handleMessage(ExoPlayerImplInternal.java:509)",
         "com.operator.tvplayer.playback.LivePlayer.onSurfaceChanged(LivePlayer.java:412)",
         "com.operator.tvplayer.ui.PlayerFragment.onResume(PlayerFragment.java:188)",
         "android.os.Handler.dispatchMessage(Handler.java:106)", "android.os.Looper.loopOnce(Looper.java:201)",
         "android.os.Looper.loop(Looper.java:288)", "android.app.ActivityThread.main(ActivityThread.java:7842)",
         "java.lang.reflect.Method.invoke(Native Method)",
         "com.android.internal.os.RuntimeInit$MethodAndArgsCaller.run(RuntimeInit.java:548)",
         "com.android.internal.os.ZygoteInit.main(ZygoteInit.java:1003)"]

# Processes: (name, kind); pids are drawn at each boot in this order, so they increase like on Android.
PROCS = ["init", "logd", "servicemanager", "vold", "netd", "surfaceflinger", "audioserver", "mediaserver",
         "media.codec", "wpa_supplicant", "lmkd", "zygote", "system_server", "com.android.bluetooth",
         "com.android.networkstack", "com.android.providers.tv", "com.google.android.tvlauncher",
         "com.operator.tvplayer", "com.google.android.youtube.tv", "com.google.android.gms"]
PLAYER = "com.operator.tvplayer"


class _Ctx:
    """Static per-device attributes."""
    __slots__ = ("wifi_mac", "bt_mac", "remote_mac", "ip", "gw", "dns", "model", "serial", "favs", "net_id")

    def __init__(self, seed: int, dev: int):
        r = _Rng(_seed(seed, dev, "device"))
        self.wifi_mac = _mac(r)
        self.bt_mac = _mac(r)
        self.remote_mac = _mac(r)
        self.ip = "192.168.%d.%d" % (r.choice((0, 1, 1, 8, 178)), r.randint(2, 250))
        self.gw = self.ip.rsplit(".", 1)[0] + ".1"
        self.dns = r.choice(["8.8.8.8", "1.1.1.1", "9.9.9.9", self.gw])
        self.model = r.choice(MODELS)
        self.serial = "%012X" % r.getrandbits(48)
        self.favs = r.sample(range(len(CHANNELS)), r.randint(5, 14))
        self.net_id = r.randint(100, 120)


def _mac(r):
    return "%02x:%02x:%02x:%02x:%02x:%02x" % tuple(r.getrandbits(8) for _ in range(6))


def _hex(r):
    return "0x%x" % (0x7f00000000 | r.getrandbits(32))


def _uuid(r):
    v = r.getrandbits(128)
    s = "%032x" % v
    return "%s-%s-4%s-a%s-%s" % (s[:8], s[8:12], s[13:16], s[17:20], s[20:])


def _pub_ip(r):
    return "%d.%d.%d.%d" % (r.choice((142, 172, 203, 35, 52, 104)), r.getrandbits(8), r.getrandbits(8),
                            r.randint(1, 254))


def _url(r):
    p = r.choice(PATHS)
    if "%d" in p:
        p = p % r.randint(1, 99999)
    return "https://%s%s" % (r.choice(HOSTS), p)


def _size(r):
    if r.random() < 0.7:
        return "%dKB" % r.randint(1, 4096)
    return "%.1fMB" % (r.random() * 12 + 0.1)


def _pkg(r):
    return r.choice(PKGS)


# --------------------------------------------------------------------------------------------
# Logcat noise templates: (tag, level, weight, process, player_related, fn(r, ctx) -> message)
# --------------------------------------------------------------------------------------------
def _t_start_proc(r, c):
    p, u = _pkg(r)
    return "Start proc %d:%s/u0a%d for activity {%s/.MainActivity}" % (r.randint(1500, 9000), p, u % 1000, p)


def _t_kill(r, c):
    p, u = _pkg(r)
    return "Killing %d:%s/u0a%d (adj %d): empty #%d" % (r.randint(1500, 9000), p, u % 1000,
                                                         r.choice((900, 905, 915, 925, 935)), r.randint(17, 40))


def _t_start_intent(r, c):
    p, _ = _pkg(r)
    return ("START u0 {act=android.intent.action.MAIN cat=[android.intent.category.LEANBACK_LAUNCHER] "
            "flg=0x%08x cmp=%s/.MainActivity} from uid %d" % (r.choice((0x10000000, 0x10200000, 0x14000000)),
                                                             p, r.choice((1000, 10034, 10040))))


def _t_displayed(r, c):
    return "Displayed %s/.MainActivity: +%dms" % (_pkg(r)[0], r.randint(180, 4200))


def _t_focus(r, c):
    return "Changing focus from Window{%07x u0 %s/.MainActivity} to Window{%07x u0 %s/.MainActivity}" % (
        r.getrandbits(28), _pkg(r)[0], r.getrandbits(28), _pkg(r)[0])


def _t_relayout(r, c):
    return "relayoutVisibleWindow: Window{%07x u0 SurfaceView - %s/.MainActivity} oldVis=%d newVis=%d" % (
        r.getrandbits(28), _pkg(r)[0], r.choice((0, 4, 8)), r.choice((0, 4, 8)))


def _t_pkg_size(r, c):
    return "getPackageSizeInfo %s: code=%dKB data=%dKB cache=%dKB" % (
        _pkg(r)[0], r.randint(800, 90000), r.randint(10, 50000), r.randint(0, 200000))


def _t_rssi(r, c):
    return "fetchRssiLinkSpeedAndFrequencyNative rssi=-%d linkspeed=%d freq=%d" % (
        r.randint(35, 85), r.choice((72, 144, 173, 300, 433, 866)), r.choice((2412, 2437, 2462, 5180, 5220, 5745)))


def _t_wifi_conn(r, c):
    return "wlan0: CTRL-EVENT-CONNECTED - Connection to %s completed [id=0 id_str=]" % c.remote_mac


def _t_wifi_signal(r, c):
    return "wlan0: CTRL-EVENT-SIGNAL-CHANGE above=1 signal=-%d noise=-%d txrate=%d" % (
        r.randint(35, 85), r.randint(88, 99), r.choice((72000, 144400, 433300, 866700)))


def _t_validated(r, c):
    return "NetworkAgentInfo [WIFI () - %d] validation passed" % c.net_id


def _t_dns(r, c):
    return "Setting DNS servers for network %d to [/%s, /%s]" % (c.net_id, c.dns, c.gw)


def _t_request(r, c):
    return ("requestNetwork for uid/pid:%d/%d NetworkRequest [ REQUEST id=%d, [ Capabilities: "
            "INTERNET&NOT_RESTRICTED&TRUSTED Uid: %d] ]" % (r.choice((10057, 10087, 10012, 1000)),
                                                          r.randint(1500, 9000), r.randint(10, 900), 10057))


def _t_probe(r, c):
    return "PROBE_HTTP http://connectivitycheck.gstatic.com/generate_204 Probe took %dms, result=204" % r.randint(
        12, 900)


def _t_probe_fail(r, c):
    return ("Probe failed with exception java.net.SocketTimeoutException: failed to connect to /%s (port %d) "
            "from /%s (port %d) after %dms" % (_pub_ip(r), r.choice((80, 443)), c.ip, r.randint(32768, 60999),
                                                r.choice((5000, 10000, 15000))))


def _t_dhcp_ack(r, c):
    return ("Received packet: %s ACK: your new IP /%s, netmask /255.255.255.0, gateways [/%s] DNS servers: /%s , "
            "lease time %d" % (c.wifi_mac, c.ip, c.gw, c.dns, r.choice((3600, 7200, 43200, 86400))))


def _t_dhcp_req(r, c):
    return "Broadcasting DHCPREQUEST ciaddr=%s request=%s serverid=%s" % (c.ip, c.ip, c.gw)


def _t_af_throttle(r, c):
    return "mixer(%s) throttle end: throttle time(%d)" % (_hex(r), r.randint(1, 40))


def _t_af_write(r, c):
    return "write blocked for %d msecs, %d delayed writes, thread %s" % (r.randint(20, 900), r.randint(1, 60),
                                                                          _hex(r))


def _t_audio_hw(r, c):
    return "out_standby: enter: stream (%s) usecase(%d: %s)" % (
        _hex(r), r.choice((0, 1, 3)), r.choice(("deep-buffer-playback", "low-latency-playback", "hdmi-passthrough")))


def _t_codec_cfg(r, c):
    w, h = r.choice(RESOLUTIONS)
    return "[%s] configured as %s, max-input-size=%d, %dx%d" % (
        r.choice(CODECS), r.choice(("video/avc", "video/hevc", "audio/mp4a-latm", "video/mpeg2")),
        r.choice((1048576, 2097152, 4194304)), w, h)


def _t_codec_flush(r, c):
    return "[%s] flush took %dms" % (r.choice(CODECS), r.randint(1, 250))


def _t_codec_err(r, c):
    return "Codec reported err %#x, actionCode %d, while in state %d" % (
        r.choice((0xffffffea, 0x80000000, 0xfffffff4)), r.choice((0, 1, 2)), r.choice((6, 7)))


def _t_omx(r, c):
    return "Using %s, %d output buffers of %s allocated" % (r.choice(CODECS), r.randint(4, 24), _size(r))


def _t_acodec_exec(r, c):
    return "[%s] Now Executing" % r.choice(CODECS)


def _t_acodec_port(r, c):
    return "[%s] Now handling output port settings change" % r.choice(CODECS)


def _t_sf_dup(r, c):
    p = _pkg(r)[0]
    return "duplicate layer name: changing SurfaceView - %s/.MainActivity to SurfaceView - %s/.MainActivity#%d" % (
        p, p, r.randint(1, 400))


def _t_sf_drop(r, c):
    return "Layer SurfaceView[%s] dropped %d frames, last present %.1fms late" % (
        _pkg(r)[0], r.randint(1, 30), r.random() * 90)


def _t_sf_fence(r, c):
    return "Slow present fence wait: %.2fms" % (r.random() * 40 + 16)


def _t_chatty_expire(r, c):
    return "uid=1000(system) Binder:%d_%X expire %d lines" % (r.randint(500, 1100), r.randint(1, 20),
                                                              r.randint(2, 400))


def _t_chatty_ident(r, c):
    return "uid=%d(%s) identical %d lines" % (10057, "u0_a57", r.randint(2, 120))


def _t_bt_evt(r, c):
    return "btif_dm_upstreams_evt: ev: %s" % r.choice(("BTA_DM_LINK_UP_EVT", "BTA_DM_LINK_DOWN_EVT",
                                                        "BTA_DM_BUSY_LEVEL_EVT", "BTA_DM_AUTH_CMPL_EVT"))


def _t_bt_hh(r, c):
    return "bta_hh_co_write: UHID write failed for dev %s, len=%d" % (c.remote_mac, r.randint(3, 64))


def _t_bt_role(r, c):
    return "bta_dm_rm_cback: app_id=%d peer=%s status=%d role=%d" % (r.randint(1, 8), c.remote_mac,
                                                                     r.choice((0, 0, 4)), r.choice((0, 1)))


def _t_key(r, c):
    return ("Delivering key to %s/.MainActivity: action=0x%x, flags=0x8, keyCode=%d, scanCode=%d, metaState=0x0, "
            "repeatCount=%d" % (r.choice((PLAYER, "com.google.android.tvlauncher")), r.choice((0, 1)),
                                r.choice((19, 20, 21, 22, 23, 166, 167, 4, 85)), r.randint(100, 500),
                                r.choice((0, 0, 0, 1, 2))))


def _t_key_slow(r, c):
    return "Window 'Window{%07x u0 %s/.MainActivity}' spent %.1fms processing the last input event: KeyEvent" % (
        r.getrandbits(28), PLAYER, r.random() * 4000 + 200)


def _t_tune(r, c):
    return "onTune: channelUri=content://android.media.tv/channel/%d, session=%s" % (r.randint(1, 900), _uuid(r))


def _t_tuner(r, c):
    return "tuner lock status: locked=%s, signal_strength=%d%%, snr=%.1fdB, ber=%.2e" % (
        r.choice(("true", "true", "true", "false")), r.randint(30, 100), r.random() * 30 + 5, r.random() * 1e-4)


def _t_exo_init(r, c):
    return "Init %07x [ExoPlayerLib/2.18.1] [%s, %s, Amlogic, 30]" % (r.getrandbits(28), c.model, c.model)


def _t_exo_release(r, c):
    return "Release %07x [ExoPlayerLib/2.18.1] [%s, %s, Amlogic, 30] [goog.exo.core, goog.exo.hls]" % (
        r.getrandbits(28), c.model, c.model)


def _t_bandwidth(r, c):
    return "bandwidthEstimate [eventTime=%.2f, mediaPos=%.2f, window=0, period=0, %d, %d, %d]" % (
        r.random() * 7000, r.random() * 7000, r.randint(100, 5000), r.randint(1000, 9000000),
        r.randint(100000, 90000000))


def _t_downstream(r, c):
    w, h = r.choice(RESOLUTIONS)
    return ("downstreamFormat [eventTime=%.2f, mediaPos=%.2f, window=0, period=0, id=%d, mimeType=video/avc, "
            "codecs=avc1.640028, bitrate=%d, res=%dx%d, fr=%.1f]" % (
                r.random() * 7000, r.random() * 7000, r.randint(0, 8), r.randint(800000, 18000000), w, h,
                r.choice((25.0, 29.97, 50.0, 59.94))))


def _t_load_error(r, c):
    return "internalError [eventTime=%.2f, mediaPos=%.2f, window=0, period=0, loadError] %s" % (
        r.random() * 7000, r.random() * 7000, _url(r))


def _t_epg(r, c):
    return "Updated %d programs for channel %d in %dms" % (r.randint(1, 400), r.randint(1, 900), r.randint(3, 2000))


def _t_epg_del(r, c):
    return "Deleted %d expired programs older than %d" % (r.randint(0, 3000), 1795000000000 + r.getrandbits(30))


def _t_http_req(r, c):
    return "--> GET %s http/1.1" % _url(r)


def _t_http_resp(r, c):
    return "<-- %d %s %s (%dms, %s body)" % (*r.choice(((200, "OK"), (200, "OK"), (200, "OK"), (304, "Not Modified"),
                                                         (404, "Not Found"), (503, "Service Unavailable"))),
                                             _url(r), r.randint(8, 3000), _size(r))


def _t_gc(r, c):
    return ("Background concurrent copying GC freed %d(%dKB) AllocSpace objects, %d(%dKB) LOS objects, %d%% free, "
            "%dMB/%dMB, paused %dus total %.3fms" % (
                r.randint(1000, 90000), r.randint(100, 9000), r.randint(0, 40), r.randint(0, 4000),
                r.randint(25, 75), r.randint(4, 120), r.randint(8, 240), r.randint(40, 4000), r.random() * 200))


def _t_skipped(r, c):
    return "Skipped %d frames!  The application may be doing too much work on its main thread." % r.randint(30, 400)


def _t_davey(r, c):
    return "Davey! duration=%dms; Flags=0, FrameTimelineVsyncId=%d, IntendedVsync=%d, Vsync=%d" % (
        r.randint(700, 4000), r.getrandbits(24), r.getrandbits(40), r.getrandbits(40))


def _t_lmk(r, c):
    p, u = _pkg(r)
    return ("Kill '%s' (%d), uid %d, oom_score_adj %d to free %dkB rss, %dkB swap; reason: low watermark is "
            "breached" % (p, r.randint(1500, 9000), u, r.choice((900, 905, 925, 935, 945)),
                          r.randint(20000, 250000), r.randint(0, 60000)))


def _t_cec(r, c):
    return "[S]:%X%X:%02X:%02X:%02X" % (r.choice((0, 4)), r.choice((0, 15)), r.choice((0x82, 0x8f, 0x36, 0x04, 0x90)),
                                        r.getrandbits(8), r.getrandbits(8))


def _t_wakelock(r, c):
    return ('acquireWakeLockInternal: lock=%d, flags=0x1, tag="%s", ws=null, uid=%d, pid=%d' % (
        r.getrandbits(28), r.choice(("*job*/com.google.android.gms/.gcm.GcmService", "NlpWakeLock",
                                     "AudioMix", "*alarm*:com.operator.tvplayer.EPG_SYNC", "WifiSuspend")),
        r.choice((1000, 10012, 10057, 1041)), r.randint(400, 9000)))


def _t_ntp(r, c):
    return "NTP update succeeded; ntp_time=%d, age_ms=%d, round_trip=%dms" % (
        1795000000000 + r.getrandbits(30), r.randint(0, 60000), r.randint(5, 400))


def _t_job(r, c):
    p = _pkg(r)[0]
    return "Job %s/%s.sync.SyncJobService #u0a%d/%d finished after %dms" % (p, p, r.randint(10, 120),
                                                                            r.randint(1, 999), r.randint(3, 60000))


def _t_storage(r, c):
    return "Volume public:%d,%d mounted at /storage/%04X-%04X, free %s" % (
        r.choice((8, 179)), r.choice((1, 17, 33)), r.getrandbits(16), r.getrandbits(16), _size(r))


def _t_dropbox(r, c):
    return "Added %s to dropbox: %s/%s@%d.txt (%s)" % (
        r.choice(("data_app_anr", "system_app_strictmode", "SYSTEM_TOMBSTONE", "data_app_wtf")),
        "/data/system/dropbox", r.choice(("data_app_anr", "system_app_strictmode")), 1795000000000 + r.getrandbits(30),
        _size(r))


def _t_launcher(r, c):
    return "Loaded %d channels and %d programs from provider in %dms" % (r.randint(10, 300), r.randint(50, 8000),
                                                                       r.randint(20, 3000))


def _t_youtube(r, c):
    return "Ping %s?ver=2&cpn=%s&docid=%s&rt=%.3f" % (
        "https://s.youtube.com/api/stats/qoe", base64.b32encode(r.getrandbits(80).to_bytes(10, "big")).decode()[:16],
        base64.b32encode(r.getrandbits(55).to_bytes(7, "big")).decode()[:11], r.random() * 3000)


def _t_gms(r, c):
    return "[%s] Checkin succeeded, next checkin in %ds (android_id=%d)" % (
        r.choice(("CheckinService", "CheckinTask")), r.randint(3600, 86400), r.getrandbits(60))


def _t_binder(r, c):
    return "Binder transaction failure. id: %d, BR_*: %d, error: -%d (%s)" % (
        r.getrandbits(30), r.choice((29201, 29189)), r.choice((32, 74, 28)),
        r.choice(("Broken pipe", "Bad message", "No space left on device")))


def _t_keystore(r, c):
    return "In get_key_characteristics: key alias %s not found, uid=%d" % (
        r.choice(("widevine_drm_key", "cast_auth", "device_cert")), r.choice((1000, 10012, 1013)))


def _t_display(r, c):
    w, h = r.choice(RESOLUTIONS)
    return "Display %d mode changed to %dx%d@%.2fHz, colorMode=%d hdr=%s" % (
        r.randint(0, 1), w, h, r.choice((50.0, 59.94, 60.0, 23.976)), r.choice((0, 7, 9)),
        r.choice(("none", "HDR10", "HLG")))


def _t_watchdog_ok(r, c):
    return "Waited %dms for the main thread, blocked in handler on %s" % (
        r.randint(1000, 30000), r.choice(("android.fg", "ActivityManager", "PowerManagerService")))


def _t_ota(r, c):
    return "Checking %s for update, current build %s/%d" % (_url(r), c.model, r.randint(100, 999))


TEMPLATES = [
    # tag, level, weight, process, player_related, fn
    ("ActivityManager", "I", 14, "system_server", False, _t_start_proc),
    ("ActivityManager", "I", 12, "system_server", False, _t_kill),
    ("ActivityTaskManager", "I", 8, "system_server", False, _t_start_intent),
    ("ActivityTaskManager", "I", 8, "system_server", False, _t_displayed),
    ("WindowManager", "I", 8, "system_server", False, _t_focus),
    ("WindowManager", "D", 10, "system_server", False, _t_relayout),
    ("PackageManager", "I", 4, "system_server", False, _t_pkg_size),
    ("WifiStateMachine", "D", 30, "system_server", False, _t_rssi),
    ("wpa_supplicant", "I", 3, "wpa_supplicant", False, _t_wifi_conn),
    ("wpa_supplicant", "I", 20, "wpa_supplicant", False, _t_wifi_signal),
    ("ConnectivityService", "D", 8, "system_server", False, _t_validated),
    ("ConnectivityService", "I", 4, "system_server", False, _t_dns),
    ("ConnectivityService", "D", 10, "system_server", False, _t_request),
    ("NetworkMonitor", "D", 14, "com.android.networkstack", False, _t_probe),
    ("NetworkMonitor", "W", 2, "com.android.networkstack", False, _t_probe_fail),
    ("DhcpClient", "D", 3, "com.android.networkstack", False, _t_dhcp_ack),
    ("DhcpClient", "D", 3, "com.android.networkstack", False, _t_dhcp_req),
    ("AudioFlinger", "D", 20, "audioserver", True, _t_af_throttle),
    ("AudioFlinger", "W", 4, "audioserver", True, _t_af_write),
    ("audio_hw_primary", "D", 10, "audioserver", True, _t_audio_hw),
    ("MediaCodec", "I", 14, "media.codec", True, _t_codec_cfg),
    ("MediaCodec", "D", 10, "media.codec", True, _t_codec_flush),
    ("MediaCodec", "E", 1, "media.codec", True, _t_codec_err),
    ("OMXClient", "I", 8, "mediaserver", True, _t_omx),
    ("ACodec", "I", 8, "media.codec", True, _t_acodec_exec),
    ("ACodec", "I", 6, "media.codec", True, _t_acodec_port),
    ("SurfaceFlinger", "I", 6, "surfaceflinger", True, _t_sf_dup),
    ("SurfaceFlinger", "W", 6, "surfaceflinger", True, _t_sf_drop),
    ("SurfaceFlinger", "W", 3, "surfaceflinger", False, _t_sf_fence),
    ("chatty", "I", 18, "system_server", False, _t_chatty_expire),
    ("chatty", "I", 10, "com.operator.tvplayer", True, _t_chatty_ident),
    ("bt_btif", "D", 8, "com.android.bluetooth", False, _t_bt_evt),
    ("bt_btif", "W", 3, "com.android.bluetooth", False, _t_bt_hh),
    ("bt_btif", "I", 5, "com.android.bluetooth", False, _t_bt_role),
    ("InputDispatcher", "I", 12, "system_server", True, _t_key),
    ("InputDispatcher", "W", 2, "system_server", True, _t_key_slow),
    ("Tvinput", "I", 8, "com.operator.tvplayer", True, _t_tune),
    ("Tvinput", "D", 12, "com.operator.tvplayer", True, _t_tuner),
    ("ExoPlayerImpl", "I", 8, "com.operator.tvplayer", True, _t_exo_init),
    ("ExoPlayerImpl", "I", 6, "com.operator.tvplayer", True, _t_exo_release),
    ("EventLogger", "D", 20, "com.operator.tvplayer", True, _t_bandwidth),
    ("EventLogger", "D", 12, "com.operator.tvplayer", True, _t_downstream),
    ("EventLogger", "E", 2, "com.operator.tvplayer", True, _t_load_error),
    ("TvProvider", "D", 8, "com.android.providers.tv", False, _t_epg),
    ("TvProvider", "I", 2, "com.android.providers.tv", False, _t_epg_del),
    ("OkHttp", "I", 14, "com.operator.tvplayer", False, _t_http_req),
    ("OkHttp", "I", 14, "com.operator.tvplayer", False, _t_http_resp),
    ("art", "I", 14, "com.operator.tvplayer", False, _t_gc),
    ("Choreographer", "I", 4, "com.google.android.tvlauncher", False, _t_skipped),
    ("OpenGLRenderer", "I", 3, "com.google.android.tvlauncher", False, _t_davey),
    ("lowmemorykiller", "I", 4, "lmkd", False, _t_lmk),
    ("HdmiCecController", "D", 6, "system_server", False, _t_cec),
    ("PowerManagerService", "D", 10, "system_server", False, _t_wakelock),
    ("NetworkTimeUpdateService", "D", 2, "system_server", False, _t_ntp),
    ("JobScheduler", "I", 6, "system_server", False, _t_job),
    ("StorageManagerService", "I", 1, "system_server", False, _t_storage),
    ("DropBoxManagerService", "I", 2, "system_server", False, _t_dropbox),
    ("TvLauncher", "I", 4, "com.google.android.tvlauncher", False, _t_launcher),
    ("YouTubeTV", "D", 6, "com.google.android.youtube.tv", False, _t_youtube),
    ("GmsCheckin", "I", 2, "com.google.android.gms", False, _t_gms),
    ("JavaBinder", "W", 2, "system_server", False, _t_binder),
    ("keystore2", "W", 2, "system_server", False, _t_keystore),
    ("DisplayManagerService", "I", 2, "system_server", True, _t_display),
    ("Watchdog", "W", 1, "system_server", False, _t_watchdog_ok),
    ("OtaUpdater", "I", 1, "com.google.android.gms", False, _t_ota),
]


def _cum(weights):
    out, s = [], 0
    for w in weights:
        s += w
        out.append(s)
    return out


_CW_ACTIVE = _cum([t[2] for t in TEMPLATES])
_CW_QUIET = _cum([0 if t[4] else t[2] for t in TEMPLATES])          # standby: no player-related noise
_IDX = list(range(len(TEMPLATES)))
_PLAYER_NOISE = [i for i, t in enumerate(TEMPLATES) if t[5] in (_t_exo_init, _t_codec_cfg, _t_tune, _t_acodec_exec,
                                                                 _t_omx, _t_downstream, _t_tuner)]

# Boot burst, in the order Android logs it: (tag, level, process, fn, (min, max) repeats)
BOOT_SEQ = [
    ("init", "I", "init", lambda r, c: "starting service '%s'..." % r.choice(SERVICES), (3, 10)),
    ("init", "I", "init", lambda r, c: "Service '%s' (pid %d) exited with status 0" % (
        r.choice(("vendor.flash_recovery", "exec 4 (/system/bin/bootstat)", "boringssl_self_test64")),
        r.randint(150, 600)), (1, 3)),
    ("Zygote", "I", "zygote", lambda r, c: "Preloading classes...", (1, 1)),
    ("Zygote", "D", "zygote", lambda r, c: "end preload, took %dms" % r.randint(900, 6000), (1, 1)),
    ("SystemServer", "I", "system_server", lambda r, c: "Entered the Android system server!", (1, 1)),
    ("SystemServiceManager", "I", "system_server",
     lambda r, c: "Starting com.android.server.%s" % r.choice(SYS_SERVICES), (4, 14)),
    ("PackageManager", "I", "system_server",
     lambda r, c: "Finished scanning system apps. Time: %d ms, packageCount: %d , timePerPackage: %d , cached: %d"
     % (r.randint(800, 9000), r.randint(90, 200), r.randint(5, 60), r.randint(0, 200)), (1, 1)),
    ("WifiService", "I", "system_server", lambda r, c: "WifiService starting up with Wi-Fi enabled", (1, 1)),
    ("DhcpClient", "D", "com.android.networkstack", _t_dhcp_ack, (1, 1)),
    ("ActivityManager", "I", "system_server", lambda r, c: "System now ready", (1, 1)),
    ("init", "I", "init", lambda r, c: "Service 'bootanim' (pid %d) exited with status 0" % r.randint(150, 600),
     (1, 1)),
    ("ActivityManager", "I", "system_server", _t_start_proc, (2, 8)),
]


def _proc_table(r):
    """pid and thread ids of each process, fresh at every boot."""
    table, p = {}, r.randint(120, 260)
    for name in PROCS:
        if name == "init":
            pid = 1
        else:
            p += r.randint(3, 40) if "." not in name and name != "system_server" else r.randint(40, 700)
            pid = p
        tids = [pid] + [pid + k for k in sorted(r.sample(range(1, 120), r.randint(3, 9)))]
        table[name] = [(pid, t) for t in tids]
    return table


# --------------------------------------------------------------------------------------------
# One device-day
# --------------------------------------------------------------------------------------------
def _end_state(seed, dev, day, ctx):
    """How device `dev` ends day `day` (and so starts day+1): ('standby', t) or ('session', channel)."""
    r = _Rng(_seed(seed, dev, day, "end"))
    if r.random() < 0.25:
        return ("standby", 22 * HOUR + 30 * MIN + r.randint(0, 80 * MIN))
    return ("session", r.choice(ctx.favs))


def _iso(date, ms):
    d = dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


class _Day:
    """Builds the events of one device-day in time order, then noise, then writes the files."""

    def __init__(self, seed, dev, day, n_lines, date, ctx):
        self.r = _Rng(_seed(seed, dev, day))
        self.seed, self.dev, self.day, self.n, self.date, self.ctx = seed, dev, day, n_lines, date, ctx
        self.ev = []                     # (ts, seq, pid, tid, level, tag, msg)
        self.epoch_t, self.epoch_tab = [], []
        self.segments = []               # (start, end, weight, quiet) for noise
        self.dead = []                   # (start, end): device off, no lines
        self.chan = None                 # channel index of the open session, None when no session
        self.labels = []                 # (type, start_seq, start_ts, end_ts)
        self.zap_p_watch = 0.2

    # --- primitives -------------------------------------------------------------------------
    def new_epoch(self, t):
        self.epoch_t.append(t)
        self.epoch_tab.append(_proc_table(self.r))

    def table(self, t):
        i = bisect.bisect_right(self.epoch_t, t) - 1
        return self.epoch_tab[max(i, 0)]

    def log(self, t, proc, lvl, tag, msg, main_thread=False):
        pairs = self.table(t)[proc]
        pid, tid = pairs[0] if main_thread else pairs[self.r.randrange(len(pairs))]
        self.ev.append((t, len(self.ev), pid, tid, lvl, tag, msg))
        return len(self.ev) - 1

    def var(self, t, cat, fn, et, data=None, lvl="I"):
        pairs = self.table(t)[PLAYER]
        msg = "[%s] %s() %s %s" % (cat, fn, et, json.dumps(data, separators=(",", ":"), ensure_ascii=False)
                                    if data else "{}")
        self.ev.append((t, len(self.ev), pairs[0][0], pairs[1][1], lvl, "VAR", msg))
        return len(self.ev) - 1

    def tmpl(self, t, i):
        tag, lvl, _w, proc, _p, fn = TEMPLATES[i]
        return self.log(t, proc, lvl, tag, fn(self.r, self.ctx))

    # --- behaviour --------------------------------------------------------------------------
    def content_id(self, ch, t):
        return "c-%06d" % ((ch * 7919 + (self.day * DAY + t) // (30 * MIN) * 104729) % 1000000)

    def next_channel(self):
        r, favs = self.r, self.ctx.favs
        if self.chan is not None and r.random() < 0.6:
            return (self.chan + r.choice((1, 1, -1))) % len(CHANNELS)
        return r.choice(favs)

    def tune(self, t, ch, start=True):
        """CHANGE_CONTENT (+ player noise, PLAYBACK_START); returns the seq of CHANGE_CONTENT."""
        r = self.r
        name, uri = CHANNELS[ch]
        seq = self.var(t, "PLAYER", "changeContent", "CHANGE_CONTENT",
                       {"channel": name, "content_id": self.content_id(ch, t), "uri": uri})
        self.chan = ch
        for i in r.sample(_PLAYER_NOISE, r.randint(1, 4)):
            self.tmpl(t + r.randint(5, 900), i)
        if start:
            self.var(t + r.randint(300, 2500), "PLAYER", "onPlaybackStarted", "PLAYBACK_START")
        return seq

    def session_len(self):
        r = self.r
        if r.random() < self.zap_p_watch:
            return int(math.exp(r.uniform(math.log(180), math.log(7200))) * SEC)
        return int(math.exp(r.uniform(math.log(10), math.log(90))) * SEC)

    def in_session(self, a, b):
        """Trick modes and the normal rare glitches inside [a, b)."""
        r = self.r
        rate = 3.2 / HOUR
        t = a + 3 * SEC
        while True:
            t += int(r.expovariate(rate))
            k = r.random()
            if k < 0.23:
                d = r.randint(5 * SEC, 5 * MIN)
                if t + d >= b - SEC:
                    return
                self.var(t, "TRICK", "onTrickMode", "PAUSE")
                self.var(t + d, "TRICK", "onTrickMode", "RESUME")
            elif k < 0.48:
                et = "FAST_FORWARD" if r.random() < 0.6 else "REWIND"
                d = r.randint(2 * SEC, 40 * SEC)
                if t + d >= b - SEC:
                    return
                self.var(t, "TRICK", "onTrickMode", et, {"speed": r.choice((2, 4, 8, 16, 32))})
                self.var(t + d, "TRICK", "onTrickMode", "RESUME")
            elif k < 0.72:
                if t >= b - SEC:
                    return
                self.var(t, "TRICK", "onTrickMode", "SEEK",
                         {"position_ms": r.randint(0, 5400) * 1000 + r.randint(0, 999)})
                d = 0
            elif k < 0.80:
                d = r.randint(150, 1800)
                if t + d >= b - SEC:
                    return
                self.var(t, "VIDEO", "onRenderStateChanged", "VideoFreeze", {"duration_ms": d}, "W")
                self.var(t + d, "VIDEO", "onRenderStateChanged", "VideoResume")
            elif k < 0.86:
                d = r.randint(200, 2500)
                if t + d >= b - SEC:
                    return
                self.var(t, "VIDEO", "onRenderStateChanged", "BlackScreen", {"duration_ms": d}, "W")
                self.var(t + d, "VIDEO", "onRenderStateChanged", "VideoResume")
            else:
                if t >= b - SEC:
                    return
                self.var(t, "DISPLAY", "onDisplayDropped", "DisplayDrop", {"duration_ms": r.randint(16, 250)}, "W")
                d = 0
            t += d

    def fill_on(self, s, e, forced=None):
        """Viewing between s and e: back-to-back playback sessions (zapping). With `forced`, the last
        session (from e - 10 min..2 h to e) plays that channel, so the next day can continue it."""
        r = self.r
        self.segments.append((s, e, 1.0, False))
        last_start = None if forced is None else max(s + 20 * SEC, e - r.randint(10 * MIN, 2 * HOUR))
        locked = False                      # the forced channel is on: play it until e
        t = s
        if self.chan is None:
            t = s + r.randint(1500, 5000)
            locked = last_start is not None and t + 5 * SEC >= last_start
            self.tune(t, forced if locked else self.next_channel())
        while True:
            end = e if locked else t + self.session_len()
            if not locked and last_start is not None and end >= last_start:
                end = max(last_start, t + 5 * SEC)
            if end >= e - 5 * SEC:
                self.in_session(t, e)
                return
            self.in_session(t, end)
            self.var(end, "PLAYER", "onPlaybackStopped", "PLAYBACK_STOP")
            gap = r.randint(40, 400) if r.random() < 0.92 else r.randint(5 * SEC, 5 * MIN)  # EPG browsing
            t = end + gap
            if t >= e - 5 * SEC:
                t = end + 40
            locked = last_start is not None and t + 5 * SEC >= last_start
            self.tune(t, forced if locked else self.next_channel())

    def boot(self, t, reason, dur=None):
        """Boot burst from t; BOOT_COMPLETED at its end. Returns (end, seq of BOOT_COMPLETED)."""
        r = self.r
        self.new_epoch(t)
        dur = dur or r.randint(15 * SEC, 40 * SEC)
        steps = [(tag, lvl, proc, fn) for tag, lvl, proc, fn, (lo, hi) in BOOT_SEQ for _ in range(r.randint(lo, hi))]
        times = sorted(t + r.randrange(dur - 600) for _ in range(len(steps) - 1))
        times.insert(0, t)
        for tt, (tag, lvl, proc, fn) in zip(times, steps):
            self.log(tt, proc, lvl, tag, fn(r, self.ctx), proc == "init")
        end = t + dur
        seq = self.var(end, "POWER", "onBootCompleted", "BOOT_COMPLETED", {"boot_reason": reason})
        self.var(end + r.randint(300, 1200), "HDMI", "onHdmiEvent", "HDMI_HOTPLUG", {"state": "in"})
        self.var(end + r.randint(1300, 1800), "HDMI", "onHdmiEvent", "HDMI_CONNECT")
        return end + 2 * SEC, seq

    def shutdown(self, t, reason):
        self.log(t, "system_server", "I", "ShutdownThread", "Shutting down (reason=%s)..." % reason)
        self.log(t + self.r.randint(200, 900), "system_server", "I", "ShutdownThread",
                 "Performing low-level shutdown...")
        return t + 1000

    # --- anomalies: a plan of relative actions, then emission --------------------------------
    def plan_anomaly(self, kind):
        r = self.r
        p = []  # (rel_ms, action...)
        t = 0
        if kind == "freeze_storm":
            for _ in range(r.randint(24, 60)):
                d = r.randint(300, 4000)
                p.append((t, "var", "VIDEO", "onRenderStateChanged", "VideoFreeze", {"duration_ms": d}, "W"))
                if r.random() < 0.4:
                    p.append((t + r.randint(10, d), "log", "media.codec", "W", "MediaCodec",
                              "[%s] dequeueOutputBuffer timed out after %dms" % (r.choice(CODECS), r.randint(100, d))))
                p.append((t + d, "var", "VIDEO", "onRenderStateChanged", "VideoResume", None, "I"))
                t += d + r.randint(1 * SEC, 12 * SEC)
        elif kind == "black_screen_loop":
            n = r.randint(8, 20)
            for i in range(n):
                p.append((t, "tune"))
                d = r.randint(4 * SEC, 15 * SEC)
                tb = t + r.randint(2600, 4000)
                p.append((tb, "var", "VIDEO", "onRenderStateChanged", "BlackScreen", {"duration_ms": d}, "W"))
                if i == n - 1:
                    p.append((tb + d, "var", "VIDEO", "onRenderStateChanged", "VideoResume", None, "I"))
                else:
                    p.append((tb + r.randint(3 * SEC, 20 * SEC), "var", "PLAYER", "onPlaybackStopped",
                              "PLAYBACK_STOP", None, "I"))
                    t = p[-1][0] + r.randint(40, 400)
        elif kind == "hdmi_flapping":
            for _ in range(r.randint(15, 40)):
                p.append((t, "var", "HDMI", "onHdmiEvent", "HDMI_HOTPLUG", {"state": "out"}, "W"))
                p.append((t + r.randint(5, 50), "var", "HDMI", "onHdmiEvent", "HDMI_DISCONNECT", None, "W"))
                t2 = t + r.randint(300, 3000)
                if r.random() < 0.5:
                    p.append((t2 - r.randint(1, 200), "log", "system_server", "D", "HdmiCecController",
                              "[S]:40:8F:%02X" % r.getrandbits(8)))
                p.append((t2, "var", "HDMI", "onHdmiEvent", "HDMI_HOTPLUG", {"state": "in"}, "I"))
                p.append((t2 + r.randint(100, 600), "var", "HDMI", "onHdmiEvent", "HDMI_CONNECT", None, "I"))
                t = p[-1][0] + r.randint(500, 6 * SEC)
        elif kind == "crash_reboot_loop":
            n = r.randint(3, 6)
            app = r.choice((PLAYER, PLAYER, "com.google.android.tvlauncher"))
            for i in range(n):
                p.append((t, "crash", app))
                gap = r.randint(5 * SEC, 30 * SEC)
                bdur = r.randint(15 * SEC, 40 * SEC)
                p.append((t + 2 * SEC, "dead", gap))
                p.append((t + 2 * SEC + gap, "boot", r.choice(("watchdog", "kernel_panic")), bdur))
                t = t + 2 * SEC + gap + bdur
                if i < n - 1:
                    t += r.randint(20 * SEC, 120 * SEC)
        else:
            raise ValueError(kind)
        return p

    @staticmethod
    def plan_len(plan):
        end = 0
        for a in plan:
            if a[1] == "boot":
                end = max(end, a[0] + a[3] + 3 * SEC)
            else:
                end = max(end, a[0])
        return end + SEC

    def emit_anomaly(self, kind, s, plan):
        r = self.r
        first_seq, last_ts = None, s
        if kind == "black_screen_loop" and self.chan is not None:
            self.var(s - 200, "PLAYER", "onPlaybackStopped", "PLAYBACK_STOP")
        for a in plan:
            t = s + a[0]
            op = a[1]
            seq = None
            if op == "var":
                seq = self.var(t, a[2], a[3], a[4], a[5], a[6])
                last_ts = t
            elif op == "log":
                self.log(t, a[2], a[3], a[4], a[5])
            elif op == "tune":
                ch = self.next_channel()
                seq = self.tune(t, ch)
                last_ts = t
            elif op == "crash":
                app = a[2]
                pid = self.table(t)[app][0][0]
                ex, why = r.choice(EXCEPTIONS)
                seq = self.log(t, app, "E", "AndroidRuntime", "FATAL EXCEPTION: main", True)
                self.log(t, app, "E", "AndroidRuntime", "Process: %s, PID: %d" % (app, pid), True)
                self.log(t, app, "E", "AndroidRuntime", "%s: %s" % (ex, why), True)
                k = r.randint(6, 14)
                st = r.randint(0, len(STACK) - k)
                for fr in STACK[st:st + k]:
                    self.log(t, app, "E", "AndroidRuntime", "\tat " + fr, True)
                self.log(t + r.randint(20, 200), "system_server", "I", "Process",
                         "Sending signal. PID: %d SIG: 9" % pid)
                self.log(t + r.randint(300, 900), "system_server", "W", "ActivityManager",
                         "Process %s (pid %d) has died: fore TOP" % (app, pid))
                self.log(t + r.randint(1000, 1900), "system_server", "E", "Watchdog",
                         "*** WATCHDOG KILLING SYSTEM PROCESS: Blocked in handler on main thread (main)")
                last_ts = t
                self.chan = None
            elif op == "dead":
                self.dead.append((t, t + a[2]))
            elif op == "boot":
                self.boot(t, a[2], a[3])
                last_ts = t + a[3]
            if first_seq is None and seq is not None:
                first_seq = seq
        self.labels.append((kind, first_seq, s + plan[0][0], last_ts))

    # --- whole day --------------------------------------------------------------------------
    def build(self, anomaly):
        r, ctx = self.r, self.ctx
        if self.day == 0:
            r0 = _Rng(_seed(self.seed, self.dev, "first-day"))
            start = ("boot",) if r0.random() < 0.6 else _end_state(self.seed, self.dev, -1, ctx)
        else:
            start = _end_state(self.seed, self.dev, self.day - 1, ctx)
        end_state = _end_state(self.seed, self.dev, self.day, ctx)

        ph = []  # [kind, start, end, extra]
        if start[0] == "standby":
            ns_end = r.randint(5 * HOUR, 8 * HOUR + 30 * MIN)
            ph.append(["standby", 0, ns_end, {"enter": False, "maint": True}])
        else:
            ns = r.randint(30 * MIN, 3 * HOUR)
            ns_end = ns + r.randint(4 * HOUR, 7 * HOUR)
            if start[0] == "boot":
                ph.append(["boot", r.randint(50, 900), None, {}])
                ph.append(["on", None, ns, {}])
            else:
                ph.append(["on", 0, ns, {"carry": start[1]}])
            ph.append(["standby", ns, ns_end, {"enter": True, "maint": start[0] != "boot"}])
        cur = ns_end
        if r.random() < 0.5:
            ms = r.randint(10 * HOUR, 15 * HOUR)
            ml = r.randint(30 * MIN, 3 * HOUR)
            ph.append(["on", cur, ms, {}])
            ph.append(["standby", ms, ms + ml, {"enter": True, "maint": False}])
            cur = ms + ml
        if end_state[0] == "standby":
            ph.append(["on", cur, end_state[1], {}])
            ph.append(["standby", end_state[1], DAY, {"enter": True, "maint": False, "exit": False}])
        else:
            ph.append(["on", cur, DAY, {"forced": end_state[1]}])

        # calibrate the zapping rate on the volume: VAR lines ~ VAR_SHARE of the lines (within limits)
        on_time = sum((p[2] - (p[1] or 0)) for p in ph if p[0] == "on")
        sessions = max(1.0, VAR_SHARE * self.n / 3.4)
        mean = min(max(on_time / sessions, 45 * SEC), 45 * MIN) / SEC
        e_zap = (90 - 10) / math.log(9)
        e_watch = (7200 - 180) / math.log(40)
        self.zap_p_watch = min(1.0, max(0.02, (mean - e_zap) / (e_watch - e_zap)))

        if anomaly:
            plan = self.plan_anomaly(anomaly)
            need = self.plan_len(plan)
            cands = [i for i, p in enumerate(ph) if p[0] == "on" and p[1] is not None
                     and p[2] - p[1] >= need + 25 * MIN]
            if cands:
                i = r.choices(cands, weights=[ph[j][2] - ph[j][1] for j in cands])[0]
                p = ph[i]
                a = p[1] + r.randint(10 * MIN, p[2] - p[1] - need - 10 * MIN)
                ph[i:i + 1] = [["on", p[1], a, {k: v for k, v in p[3].items() if k != "forced"}],
                               ["anomaly", a, a + need, {"kind": anomaly, "plan": plan}],
                               ["on", a + need, p[2], {k: v for k, v in p[3].items() if k != "carry"}]]

        prev = None
        for kind, s, e, x in ph:
            if kind == "boot":
                self.segments.append((0, s, 0.0, True))
                self.dead.append((0, s))
                end, _ = self.boot(s, "cold")
                prev = ("boot", end)
                continue
            if s is None:
                s = prev[1]
            if kind == "on":
                if "carry" in x:
                    self.new_epoch(0)
                    self.chan = x["carry"]
                    if r.random() < 0.2:
                        self.var(r.randint(200, 5000), "TRICK", "onTrickMode", "SEEK",
                                 {"position_ms": r.randint(0, 3600) * 1000})
                elif prev and prev[0] == "standby":
                    self.var(s, "POWER", "onPowerStateChanged", "STANDBY_EXIT")
                    self.chan = None
                self.fill_on(s, e, x.get("forced"))
            elif kind == "standby":
                if not self.epoch_t:
                    self.new_epoch(0)
                if x.get("enter", True):
                    if self.chan is not None:
                        self.var(s, "PLAYER", "onPlaybackStopped", "PLAYBACK_STOP")
                    self.var(s + r.randint(100, 800), "POWER", "onPowerStateChanged", "STANDBY_ENTER")
                self.chan = None
                self.segments.append((s, e, 0.06, True))
                if x.get("maint"):
                    tm = s + r.randint(20 * MIN, max(21 * MIN, e - s - 40 * MIN))
                    t0 = self.shutdown(tm, "reboot,maintenance")
                    gap = r.randint(3 * SEC, 12 * SEC)
                    self.dead.append((t0, t0 + gap))
                    end, _ = self.boot(t0 + gap, "reboot,maintenance")
                    self.var(end, "POWER", "onPowerStateChanged", "STANDBY_ENTER")
            elif kind == "anomaly":
                self.segments.append((s, e, 1.0, False))
                self.emit_anomaly(x["kind"], s, x["plan"])
            prev = (kind, e)

        # occasional TV switched off/on: a normal HDMI hot-plug pair inside a viewing period
        if r.random() < 0.3:
            ons = [p for p in ph if p[0] == "on" and p[1] is not None and p[2] - p[1] > 20 * MIN]
            if ons:
                p = r.choice(ons)
                t = r.randint(p[1] + 5 * MIN, p[2] - 10 * MIN)
                self.var(t, "HDMI", "onHdmiEvent", "HDMI_HOTPLUG", {"state": "out"}, "W")
                self.var(t + r.randint(5, 50), "HDMI", "onHdmiEvent", "HDMI_DISCONNECT", None, "W")
                t2 = min(t + r.randint(2 * SEC, 20 * MIN), p[2] - 2 * SEC)
                self.var(t2, "HDMI", "onHdmiEvent", "HDMI_HOTPLUG", {"state": "in"})
                self.var(t2 + r.randint(100, 600), "HDMI", "onHdmiEvent", "HDMI_CONNECT")
        if getattr(self, "pushes", None):   # injected app pushes (generate_pushes.py)
            from logalyzer.generate_pushes import emit

            emit(self, ph, self.pushes, self.seed)

    def add_noise(self):
        r = self.r
        n_dup = int(self.n * DUPLICATE_RATE * r.uniform(0.5, 1.5))
        n_noise = max(0, self.n - len(self.ev) - n_dup)
        # segments minus dead intervals
        segs = []
        dead = sorted(self.dead)
        for s, e, w, q in self.segments:
            if w <= 0 or e <= s:
                continue
            pieces = [(s, e)]
            for ds, de in dead:
                nxt = []
                for a, b in pieces:
                    if de <= a or ds >= b:
                        nxt.append((a, b))
                    else:
                        if ds > a:
                            nxt.append((a, ds))
                        if de < b:
                            nxt.append((de, b))
                pieces = nxt
            segs.extend((a, b, w, q) for a, b in pieces if b > a)
        total = sum((b - a) * w for a, b, w, q in segs)
        rnd = r.random
        times, quiet = [], []
        for a, b, w, q in segs:
            k = int(round(n_noise * (b - a) * w / total)) if total else 0
            span = b - a
            ts = [a + int(rnd() * span) for _ in range(k)]
            times.append(ts)
            quiet.append(q)
        base = len(self.ev) + 1_000_000_000
        ev = self.ev
        ctx = self.ctx
        eps, tabs = self.epoch_t, self.epoch_tab
        seq = base
        for ts, q in zip(times, quiet):
            if not ts:
                continue
            ts.sort()
            idx = r.choices(_IDX, cum_weights=_CW_QUIET if q else _CW_ACTIVE, k=len(ts))
            ei = bisect.bisect_right(eps, ts[0]) - 1
            nxt = eps[ei + 1] if ei + 1 < len(eps) else DAY * 2
            tab = tabs[max(ei, 0)]
            for t, i in zip(ts, idx):
                if t >= nxt:
                    ei = bisect.bisect_right(eps, t) - 1
                    nxt = eps[ei + 1] if ei + 1 < len(eps) else DAY * 2
                    tab = tabs[ei]
                tag, lvl, _w, proc, _p, fn = TEMPLATES[i]
                pairs = tab[proc]
                pid, tid = pairs[int(rnd() * len(pairs))]
                ev.append((t, seq, pid, tid, lvl, tag, fn(r, ctx)))
                seq += 1
        ev.sort()
        # sprinkle: out-of-order lines and verbatim duplicates (noise lines only)
        n = len(ev)
        self.n_ooo = self.n_dup = 0
        if n > 10:
            for _ in range(int(n * OUT_OF_ORDER_RATE * r.uniform(0.5, 1.5))):
                i = r.randrange(1, n)
                e = ev[i]
                if e[1] >= 1_000_000_000 and ev[i - 1][0] > 5 and e[0] >= ev[i - 1][0]:
                    ev[i] = (max(0, ev[i - 1][0] - r.randint(3, 1000)),) + e[1:]
                    self.n_ooo += 1
            dups = set(r.randrange(n) for _ in range(n_dup))
            dups = {i for i in dups if ev[i][1] >= 1_000_000_000}
            self.n_dup = len(dups)
            if dups:
                out = []
                for i, e in enumerate(ev):
                    out.append(e)
                    if i in dups:
                        out.append(e)
                self.ev = out


def _format_lines(events, md):
    """logcat threadtime lines for events; raw (pid None) entries are written verbatim."""
    out = []
    append = out.append
    last = -1
    pre = ""
    for e in events:
        pid = e[2]
        if pid is None:
            append(e[6])
            continue
        ts = e[0]
        sec = ts // 1000
        if sec != last:
            last = sec
            pre = "%s %02d:%02d:%02d" % (md, sec // 3600, sec // 60 % 60, sec % 60)
        append("%s.%03d %5d %5d %s %-8s: %s" % (pre, ts % 1000, pid, e[3], e[4], e[5], e[6]))
    return out


def _write(path, events, md, compress):
    n = 0
    with open(path, "wb") as fh:
        sink = gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="", compresslevel=6) if compress else fh
        try:
            for i in range(0, len(events), _CHUNK):
                lines = _format_lines(events[i:i + _CHUNK], md)
                n += len(lines)
                sink.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        finally:
            if compress:
                sink.close()
    return n


def _garbage(r, kind, t, table):
    """Raw / odd lines to inject: list of event tuples."""
    if kind == "hash":
        return [(t, -1, None, None, None, None, r.choice(("#####", "##########", "#" * r.randint(3, 60))))]
    if kind == "junk":
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~ "
        s = "".join(r.choice(chars) for _ in range(r.randint(10, 120)))
        return [(t, -1, None, None, None, None, r.choice("~^@!%&*") + s)]
    if kind == "stack":
        k = r.randint(3, 6)
        st = r.randrange(len(STACK) - k)
        lines = ["\tat " + f for f in STACK[st:st + k]]
        if r.random() < 0.5:
            lines.append("Caused by: java.io.IOException: unexpected end of stream on %s" % r.choice(HOSTS))
        lines.append("\t... %d more" % r.randint(3, 30))
        return [(t, -1, None, None, None, None, x) for x in lines]
    pid, tid = table[PLAYER][1]
    if kind == "invalid_utf8":
        return [(t, -1, pid, tid, "I", "Tvinput",
                 'EIT event name="caf\udce9 cr\udce8me" lang=fre svc=%d' % r.randint(1, 900)),
                (t, -1, table["com.android.bluetooth"][0][0], table["com.android.bluetooth"][1][1], "I", "bt_btif",
                 "remote device name=\udcff\udcfeBRAVIA\udcc3 class=0x%06x" % r.getrandbits(24))]
    if kind == "overlong":
        body = base64.b64encode(r.getrandbits(8 * 75000).to_bytes(75000, "little")).decode()
        return [(t, -1, pid, tid, "D", "OkHttp", "<-- 200 OK https://epg.operator.tv/epg/v2/grid?full=1 "
                 "(%dms, 97KB body) body=%s" % (r.randint(200, 3000), body))]
    raise ValueError(kind)


def _device_day(task):
    """Worker: generate and write the files of one device-day. Returns its part of the summary."""
    (out_dir, seed, dev, day, n_lines, start_date, fpd, anomaly, inject, plain_nn, corrupt, empty), extra = task[:12], task[12:]
    date = dt.date.fromisoformat(start_date) + dt.timedelta(days=day)
    ctx = _Ctx(seed, dev)
    d = _Day(seed, dev, day, n_lines, date, ctx)
    d.pushes = extra[0] if extra else ()
    d.build(anomaly)
    d.add_noise()
    ev, r = d.ev, d.r
    did, ymd = device_id(dev), date.strftime("%Y%m%d")
    sub = date.isoformat()
    md = "%02d-%02d" % (date.month, date.day)

    # rotation: contiguous slices of roughly equal size
    n = len(ev)
    cuts = [0]
    for k in range(1, fpd):
        c = int(k * n / fpd + r.uniform(-0.05, 0.05) * n / fpd)
        cuts.append(min(max(c, cuts[-1] + 1), n - (fpd - k)))
    cuts.append(n)
    seq_pos = {seq: None for _k, seq, _s, _e in d.labels}
    if seq_pos:
        for i, e in enumerate(ev):
            if e[1] in seq_pos and seq_pos[e[1]] is None:
                seq_pos[e[1]] = i

    res = {"files": [], "labels": [], "malformed": 0, "invalid_utf8": 0, "overlong": 0, "bad_files": [],
           "plain_files": [], "corrupt_lines": 0, "var_lines": sum(1 for e in ev if e[5] == "VAR"),
           "out_of_order": d.n_ooo, "duplicates": d.n_dup}
    names = []
    for k in range(fpd):
        part = ev[cuts[k]:cuts[k + 1]]
        kinds = inject.get(k, ())
        if kinds:
            part = list(part)
            for kind in kinds:
                pos = r.randint(1, len(part))
                t = part[pos - 1][0]
                g = _garbage(r, kind, t, d.table(t))
                part[pos:pos] = g
                if kind in ("hash", "junk", "stack"):
                    res["malformed"] += len(g)
                elif kind == "invalid_utf8":
                    res["invalid_utf8"] += len(g)
                else:
                    res["overlong"] += 1
        plain = k == plain_nn
        name = "%s_%s_%02d.log%s" % (did, ymd, k, "" if plain else ".gz")
        rel = "%s/%s" % (sub, name)
        cnt = _write(os.path.join(out_dir, sub, name), part, md, not plain)
        res["files"].append((rel, cnt))
        if plain:
            res["plain_files"].append(rel)
        names.append(rel)
    for kind, seq, s, e in d.labels:
        pos = seq_pos.get(seq) or 0
        f = max(k for k in range(fpd) if cuts[k] <= pos)
        res["labels"].append((did, kind, _iso(date, s), _iso(date, e), names[f], s))

    if corrupt:  # a valid gzip of other lines, truncated in the middle of its deflate stream
        rc = _Rng(_seed(seed, dev, day, "corrupt"))
        t0 = rc.randint(0, DAY - 2 * HOUR)
        tab = d.table(t0)
        lines = []
        for t in sorted(t0 + rc.randrange(HOUR) for _ in range(1500)):
            tag, lvl, _w, proc, _p, fn = TEMPLATES[rc.randrange(len(TEMPLATES))]
            pid, tid = tab[proc][0]
            lines.append((t, 0, pid, tid, lvl, tag, fn(rc, ctx)))
        raw = ("\n".join(_format_lines(lines, md)) + "\n").encode("utf-8")
        buf = gzip.compress(raw, compresslevel=6, mtime=0)
        name = "%s_%s_%02d.log.gz" % (did, ymd, CORRUPT_NN)
        with open(os.path.join(out_dir, sub, name), "wb") as fh:
            fh.write(buf[:len(buf) // 2])
        res["files"].append(("%s/%s" % (sub, name), len(lines)))
        res["bad_files"].append("%s/%s" % (sub, name))
        res["corrupt_lines"] = len(lines)
    if empty:
        name = "%s_%s_%02d.log" % (did, ymd, EMPTY_NN)
        open(os.path.join(out_dir, sub, name), "wb").close()
        res["files"].append(("%s/%s" % (sub, name), 0))
        res["bad_files"].append("%s/%s" % (sub, name))
    return res


# --------------------------------------------------------------------------------------------
# Fleet
# --------------------------------------------------------------------------------------------
def generate_fleet(out_dir: str, devices: int = 10, days: int = 1, seed: int = 42,
                   lines_per_device_day: int = 5000, start_date: str = "2026-11-20",
                   bad_input: bool = True, files_per_day: int = 2, workers: int | None = None,
                   anomaly_rate: float = ANOMALY_RATE, first_device: int = 1, pushes=None) -> dict:
    """Write a synthetic fleet under out_dir and return a summary dict (see docs/var_format.md).

    `first_device`: number of the first device (R0000000001 is 1); a device's lines depend on its
    number, so fleets with disjoint numbers never share a device or a file.

    `workers`: processes to use (None: automatic, 1: in this process); the output does not depend on it.
    `anomaly_rate`: share of device-days with one injected anomaly (0: a clean fleet, e.g. to train on).
    `pushes`: app pushes to inject (generate_pushes.Push, or `TIME,DEVICES,EFFECT` strings), each also
    written as a POST /events body under out_dir/pushes/.
    """
    if devices < 1 or days < 1:
        raise ValueError("devices and days must be >= 1")
    if not 1 <= first_device <= 10 ** 10 - devices:
        raise ValueError("first_device must be >= 1 and leave room for the devices in 10 digits")
    if not 1 <= files_per_day <= 90:
        raise ValueError("files_per_day must be in 1..90")
    if lines_per_device_day < 10 * files_per_day:
        raise ValueError("lines_per_device_day must be >= 10 * files_per_day")
    start = dt.date.fromisoformat(start_date)
    os.makedirs(out_dir, exist_ok=True)
    for day in range(days):
        os.makedirs(os.path.join(out_dir, (start + dt.timedelta(days=day)).isoformat()), exist_ok=True)

    fleet = _Rng(_seed(seed, "fleet"))
    n_dd = devices * days
    if not 0 <= anomaly_rate <= 1:
        raise ValueError("anomaly_rate must lie between 0 and 1")
    k = max(1, int(round(anomaly_rate * n_dd))) if anomaly_rate > 0 else 0
    picked = sorted(fleet.sample(range(n_dd), min(k, n_dd)))
    types = []
    while len(types) < len(picked):
        batch = list(ANOMALY_TYPES)
        fleet.shuffle(batch)
        types.extend(batch)
    anomaly = dict(zip(picked, types))

    inject, plain, corrupt, empty = {}, None, None, None
    if bad_input:
        n_files = n_dd * files_per_day
        per = max(1, n_files // 1000)
        for kind in ("hash", "junk", "stack", "invalid_utf8", "overlong"):
            for f in fleet.sample(range(n_files), min(per, n_files)):
                inject.setdefault(f // files_per_day, {}).setdefault(f % files_per_day, []).append(kind)
        plain = fleet.randrange(n_files)
        corrupt = fleet.randrange(n_dd)
        empty = fleet.randrange(n_dd)

    if pushes:
        from logalyzer.generate_pushes import day_effects, parse_push

        pushes = [parse_push(p, i, devices) if isinstance(p, str) else p for i, p in enumerate(pushes)]
    tasks = []
    for dev in range(devices):
        for day in range(days):
            i = dev * days + day
            tasks.append((out_dir, seed, first_device - 1 + dev, day, lines_per_device_day, start.isoformat(), files_per_day,
                          anomaly.get(i), inject.get(i, {}),
                          plain % files_per_day if plain is not None and plain // files_per_day == i else None,
                          i == corrupt, i == empty))
            if pushes:
                tasks[-1] += (day_effects(pushes, dev, start + dt.timedelta(days=day)),)
    if workers is None:
        big = n_dd * lines_per_device_day >= 400_000
        workers = min(os.cpu_count() or 1, len(tasks)) if big else 1
    if workers > 1 and len(tasks) > 1:
        # fork where there is one (no re-import of the caller's __main__, which spawn would need guarded)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with multiprocessing.get_context(method).Pool(min(workers, len(tasks))) as pool:
            results = pool.map(_device_day, tasks, chunksize=1)
    else:
        results = [_device_day(t) for t in tasks]

    files, labels, bad, plain_files = [], [], [], []
    tot = {"malformed": 0, "invalid_utf8": 0, "overlong": 0, "corrupt_lines": 0, "var_lines": 0,
           "out_of_order": 0, "duplicates": 0}
    for res in results:
        files.extend(res["files"])
        labels.extend(res["labels"])
        bad.extend(res["bad_files"])
        plain_files.extend(res["plain_files"])
        for key in tot:
            tot[key] += res[key]
    labels.sort(key=lambda x: (x[0], x[2]))
    push_files = []
    if pushes:
        from logalyzer.generate_pushes import write_events

        push_files = write_events(out_dir, pushes, seed)
    labels_path = os.path.join(out_dir, "labels.csv")
    with open(labels_path, "w", encoding="utf-8", newline="") as fh:
        fh.write("device_id,anomaly_type,start_ts,end_ts,file\n")
        for did, kind, s, e, f, _ms in labels:
            fh.write("%s,%s,%s,%s,%s\n" % (did, kind, s, e, f))
    lines = sum(c for _f, c in files)
    end = start + dt.timedelta(days=days - 1)
    with open(os.path.join(out_dir, "README.txt"), "w", encoding="utf-8") as fh:
        fh.write("LOGalyzer synthetic fleet (seed %d): %d Android-TV set-top boxes x %d day(s), %s..%s UTC, "
                 "%d logcat -v threadtime files (%d lines, ~%d per device-day, %d rotated files per device-day) "
                 "under <YYYY-MM-DD>/<device>_<YYYYMMDD>_<NN>.log.gz.\n"
                 % (seed, devices, days, start.isoformat(), end.isoformat(), len(files), lines,
                    lines_per_device_day, files_per_day))
        fh.write("Ground truth: labels.csv (%d injected anomalies); deliberately bad input: %s; "
                 "formats in docs/var_format.md of LOGalyzer.\n"
                 % (len(labels), ", ".join(bad + ["%s (plain text)" % p for p in plain_files]) or "none"))
    return {
        "files": len(files), "lines": lines, "devices": devices, "days": days, "labels": labels_path,
        "bad_files": bad, "out_dir": out_dir,
        "plain_files": plain_files, "anomalies": len(labels),
        "readable_lines": lines - tot["corrupt_lines"], "corrupt_lines": tot["corrupt_lines"],
        "malformed_lines": tot["malformed"], "invalid_utf8_lines": tot["invalid_utf8"],
        "overlong_lines": tot["overlong"], "var_lines": tot["var_lines"],
        "out_of_order_lines": tot["out_of_order"], "duplicate_lines": tot["duplicates"],
        "push_files": push_files,
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def add_arguments(parser):
    """Add the `generate` options to an argparse parser."""
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--devices", type=int, default=10, help="number of set-top boxes (default 10)")
    parser.add_argument("--days", type=int, default=1, help="days per device (default 1)")
    parser.add_argument("--seed", type=int, default=42, help="random seed; same arguments => same bytes")
    parser.add_argument("--first-device", type=int, default=None, metavar="N",
                        help="number of the first device id (R0000000001 is 1); default: a block of ids picked "
                             "by --out, so different outputs never share device ids")
    parser.add_argument("--lines-per-device-day", type=int, default=5000, help="log lines per device-day")
    parser.add_argument("--start-date", default="2026-11-20", help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--no-bad-input", action="store_true",
                        help="no corrupt/empty/plain files, garbage, non-UTF-8 or over-long lines")
    parser.add_argument("--files-per-day", type=int, default=2, help="rotated files per device-day (default 2)")
    parser.add_argument("--anomaly-rate", type=float, default=ANOMALY_RATE,
                        help="share of device-days with one injected anomaly (default %(default)s; 0: a clean "
                             "fleet to train on)")
    parser.add_argument("--push", dest="pushes", action="append", default=[], metavar="TIME,DEVICES,EFFECT",
                        help="inject an app push (repeatable): e.g. '2026-11-20T12:00:00Z,0-4,worse' makes devices "
                             "0..4 (indices) log more BlackScreen/VideoFreeze from then on (worse:R: R extra of each "
                             "per viewing hour, default 3); EFFECT none changes nothing. Each push is also written "
                             "as a POST /events body under OUT/pushes/")
    return parser


def run(args) -> int:
    """`logalyzer generate`: generate the fleet and print a summary."""
    if getattr(args, "pushes", None):
        from logalyzer.generate_pushes import parse_push

        try:
            args.pushes = [parse_push(p, i, args.devices) for i, p in enumerate(args.pushes)]
        except ValueError as exc:
            import sys

            print("error: %s" % exc, file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    first = args.first_device if args.first_device is not None else first_device_for(args.out)
    s = generate_fleet(args.out, devices=args.devices, days=args.days, seed=args.seed, first_device=first,
                       lines_per_device_day=args.lines_per_device_day, start_date=args.start_date,
                       bad_input=not args.no_bad_input, files_per_day=args.files_per_day,
                       anomaly_rate=args.anomaly_rate, pushes=getattr(args, "pushes", None))
    secs = time.perf_counter() - t0
    print("Generated %d log files (%d lines) for %d devices x %d day(s) into %s in %.1f s. VAR lines: %d; "
          "injected anomalies: %d (ground truth in %s); bad input: %s%s; garbage lines: %d, non-UTF-8 lines: %d, "
          "over-long lines: %d." % (
              s["files"], s["lines"], s["devices"], s["days"], s["out_dir"], secs, s["var_lines"], s["anomalies"],
              s["labels"], ", ".join(s["bad_files"]) or "none",
              "".join(", %s (plain text)" % p for p in s["plain_files"]),
              s["malformed_lines"], s["invalid_utf8_lines"], s["overlong_lines"]))
    if s.get("push_files"):
        print("Injected pushes (POST /events bodies): %s" % ", ".join(s["push_files"]))
    return 0


if __name__ == "__main__":
    import argparse
    import sys

    sys.exit(run(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))

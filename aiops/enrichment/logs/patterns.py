"""The failure-category library: what a log line can tell us went wrong, as data.

Consumed by :mod:`aiops.enrichment.logs.scan` (which compiles :data:`PATTERNS` once, hyperscan or
``re``) and :mod:`aiops.enrichment.logs.analyze` (which turns matches into ranked findings); the RCA
engine (issue 5, step 2) maps categories to root causes and playbooks, and uses
:func:`interpret_exit_code` on a container's ``lastState.terminated.exitCode``.

Every regex is written in the subset that Hyperscan and Python ``re`` read the same way: no
lookarounds or backreferences, ``[ \\t]`` rather than ``\\s`` (a scan runs over many lines joined
by newlines), no unbounded repetition at the end (Hyperscan reports every end offset). They are
compiled case-insensitive, multi-line and ASCII (``\\b``, ``\\w`` are ASCII in both engines).

Sources for the message texts: Linux ``mm/oom_kill.c``; the JVM (``java.lang.OutOfMemoryError``),
Go runtime (``runtime/panic.go``, ``runtime/malloc.go``) and V8 fatal messages; errno names of POSIX;
Go ``net``/``crypto/x509`` error strings; PostgreSQL, MySQL and Redis error replies; kubelet probe
and back-off events (Kubernetes ``pkg/kubelet``); shell exit status conventions (128 + signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiops.events.model import Severity

__all__ = [
    "CATEGORIES",
    "EXIT_CODES",
    "PATTERNS",
    "Category",
    "CategoryInfo",
    "Pattern",
    "TraceFamily",
    "interpret_exit_code",
]


class Category(StrEnum):
    """A failure category; the value is the stable name used in JSON and by the RCA engine."""

    OOM_KERNEL = "oom_kernel"
    OOM_JAVA = "oom_java"
    OOM_GO = "oom_go"
    OOM_NODE = "oom_node"
    OOM_PYTHON = "oom_python"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    TIMEOUT = "timeout"
    DNS = "dns"
    TLS = "tls"
    AUTH = "auth"
    PERMISSION_DENIED = "permission_denied"
    READ_ONLY_FS = "read_only_fs"
    DISK_FULL = "disk_full"
    TOO_MANY_OPEN_FILES = "too_many_open_files"
    ADDRESS_IN_USE = "address_in_use"
    MISSING_FILE = "missing_file"
    MISSING_CONFIG = "missing_config"
    PANIC = "panic"
    SEGFAULT = "segfault"
    PYTHON_TRACEBACK = "python_traceback"
    JAVA_STACK_TRACE = "java_stack_trace"
    GO_PANIC = "go_panic"
    NODE_STACK_TRACE = "node_stack_trace"
    POSTGRES = "postgres"
    MYSQL = "mysql"
    REDIS = "redis"
    MESSAGE_BROKER = "message_broker"
    PROBE_FAILURE = "probe_failure"
    CRASH_LOOP = "crash_loop"
    IMAGE_PULL = "image_pull"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    RATE_LIMITED = "rate_limited"
    EXIT_1 = "exit_1"
    EXIT_126 = "exit_126"
    EXIT_127 = "exit_127"
    EXIT_137 = "exit_137"
    EXIT_139 = "exit_139"
    EXIT_143 = "exit_143"


class TraceFamily(StrEnum):
    """A multi-line trace format; lines of one family close together form one trace."""

    PYTHON = "python"
    JAVA = "java"
    GO = "go"
    NODE = "node"


@dataclass(frozen=True)
class CategoryInfo:
    """How bad a category is and what it usually means (one sentence, for humans and the RCA)."""

    severity: Severity
    meaning: str


_C, _W, _I = Severity.CRITICAL, Severity.WARNING, Severity.INFO

CATEGORIES: dict[Category, CategoryInfo] = {
    Category.OOM_KERNEL: CategoryInfo(_C, "the kernel OOM killer killed a process (memory limit or node)"),
    Category.OOM_JAVA: CategoryInfo(_C, "the JVM ran out of heap, metaspace or native threads"),
    Category.OOM_GO: CategoryInfo(_C, "the Go runtime could not allocate memory"),
    Category.OOM_NODE: CategoryInfo(_C, "V8 reached its heap limit (--max-old-space-size)"),
    Category.OOM_PYTHON: CategoryInfo(_C, "Python raised MemoryError"),
    Category.CONNECTION_REFUSED: CategoryInfo(_W, "nothing listens at the address dialled"),
    Category.CONNECTION_RESET: CategoryInfo(_W, "the peer closed the connection abruptly"),
    Category.TIMEOUT: CategoryInfo(_W, "an operation or dependency did not answer in time"),
    Category.DNS: CategoryInfo(_W, "a host name did not resolve (no such host, NXDOMAIN)"),
    Category.TLS: CategoryInfo(_W, "a TLS handshake or certificate check failed"),
    Category.AUTH: CategoryInfo(_W, "credentials were missing, wrong or not allowed (401/403)"),
    Category.PERMISSION_DENIED: CategoryInfo(_W, "the process lacks permission on a file or operation"),
    Category.READ_ONLY_FS: CategoryInfo(_C, "a write hit a read-only file system"),
    Category.DISK_FULL: CategoryInfo(_C, "no space left on a device (ENOSPC)"),
    Category.TOO_MANY_OPEN_FILES: CategoryInfo(_C, "the file descriptor limit was reached (EMFILE)"),
    Category.ADDRESS_IN_USE: CategoryInfo(_C, "the port to listen on is taken (EADDRINUSE)"),
    Category.MISSING_FILE: CategoryInfo(_W, "a file or directory does not exist (ENOENT)"),
    Category.MISSING_CONFIG: CategoryInfo(_C, "required configuration or environment is missing"),
    Category.PANIC: CategoryInfo(_C, "the program panicked (Rust, kernel, or generic PANIC)"),
    Category.SEGFAULT: CategoryInfo(_C, "the process died of a fatal signal (SIGSEGV, SIGABRT, SIGBUS)"),
    Category.PYTHON_TRACEBACK: CategoryInfo(_W, "a Python exception traceback"),
    Category.JAVA_STACK_TRACE: CategoryInfo(_W, "a JVM exception stack trace"),
    Category.GO_PANIC: CategoryInfo(_C, "a Go panic or fatal error with its goroutine dump"),
    Category.NODE_STACK_TRACE: CategoryInfo(_W, "a Node.js error stack trace"),
    Category.POSTGRES: CategoryInfo(_W, "a PostgreSQL error"),
    Category.MYSQL: CategoryInfo(_W, "a MySQL/MariaDB error"),
    Category.REDIS: CategoryInfo(_W, "a Redis error reply or connection failure"),
    Category.MESSAGE_BROKER: CategoryInfo(_W, "a Kafka, RabbitMQ or NATS client error"),
    Category.PROBE_FAILURE: CategoryInfo(_W, "a liveness, readiness or startup probe failed"),
    Category.CRASH_LOOP: CategoryInfo(_C, "the kubelet is backing off restarting a crashing container"),
    Category.IMAGE_PULL: CategoryInfo(_C, "the container image could not be pulled"),
    Category.UPSTREAM_UNAVAILABLE: CategoryInfo(_W, "an upstream answered 502/503/504 or was unavailable"),
    Category.RATE_LIMITED: CategoryInfo(_I, "a request was throttled (429, rate limit)"),
    Category.EXIT_1: CategoryInfo(_W, "exit code 1: the application exited with a generic error"),
    Category.EXIT_126: CategoryInfo(_C, "exit code 126: the command is not executable (permissions, format)"),
    Category.EXIT_127: CategoryInfo(_C, "exit code 127: command not found (wrong entrypoint or PATH)"),
    Category.EXIT_137: CategoryInfo(_C, "exit code 137 = 128+9: SIGKILL, usually the OOM killer"),
    Category.EXIT_139: CategoryInfo(_C, "exit code 139 = 128+11: SIGSEGV, a segmentation fault"),
    Category.EXIT_143: CategoryInfo(_I, "exit code 143 = 128+15: SIGTERM, a graceful stop was asked"),
}

#: Exit codes we interpret (Kubernetes ``containerStatuses[].lastState.terminated.exitCode``).
EXIT_CODES: dict[int, Category] = {
    1: Category.EXIT_1,
    126: Category.EXIT_126,
    127: Category.EXIT_127,
    137: Category.EXIT_137,
    139: Category.EXIT_139,
    143: Category.EXIT_143,
}


def interpret_exit_code(code: int) -> str:
    """One sentence about a container exit code; codes above 128 are 128 + a signal number."""
    if code in EXIT_CODES:
        return CATEGORIES[EXIT_CODES[code]].meaning
    if code == 0:
        return "exit code 0: the process completed successfully"
    if 128 < code < 160:
        return f"exit code {code} = 128+{code - 128}: killed by signal {code - 128}"
    return f"exit code {code}: application-specific error"


@dataclass(frozen=True)
class Pattern:
    """One regex of a category; ``trace`` marks lines that belong to a multi-line trace."""

    category: Category
    regex: str
    trace: TraceFamily | None = None


def _exit(code: int) -> Pattern:
    # "exit code 137", "exited with code 1", "exit status 127", "exitCode: 139", "code=exited, status=143"
    regex = (
        r"(?:exit(?:ed)?(?: with)?[ _]?(?:code|status)|exitcode|code=exited, status)[\"']?[=: ]+[\"']?"
        rf"{code}\b(?:[^.\d\n]|$)"
    )
    return Pattern(EXIT_CODES[code], regex)


_PY, _JAVA, _GO, _NODE = TraceFamily.PYTHON, TraceFamily.JAVA, TraceFamily.GO, TraceFamily.NODE

#: The library, in no particular order; a line may match several patterns and categories.
PATTERNS: tuple[Pattern, ...] = (
    # out of memory
    Pattern(Category.OOM_KERNEL, r"invoked oom-killer|out of memory: kill(?:ed)? process|oom-kill:"),
    Pattern(Category.OOM_KERNEL, r"memory cgroup out of memory|\bOOMKilled\b"),
    Pattern(Category.OOM_JAVA, r"java\.lang\.OutOfMemoryError"),
    Pattern(Category.OOM_GO, r"fatal error: runtime: out of memory|runtime: cannot allocate memory"),
    Pattern(Category.OOM_NODE, r"JavaScript heap out of memory|Reached heap limit|Ineffective mark-compacts"),
    Pattern(Category.OOM_PYTHON, r"^(?:[\w.]+\.)?MemoryError\b"),
    # network
    Pattern(Category.CONNECTION_REFUSED, r"connection refused|ECONNREFUSED|ConnectException: Connection"),
    Pattern(Category.CONNECTION_RESET, r"connection reset by peer|ECONNRESET|broken pipe|EPIPE\b"),
    Pattern(
        Category.TIMEOUT,
        r"timed out|\btimeout exceeded|deadline exceeded|ETIMEDOUT|i/o timeout|SocketTimeoutException"
        r"|TimeoutError|request timeout|operation timeout",
    ),
    Pattern(
        Category.DNS,
        r"no such host|NXDOMAIN|name or service not known|temporary failure in name resolution"
        r"|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|UnknownHostException|server misbehaving"
        r"|could not resolve host|nodename nor servname",
    ),
    Pattern(
        Category.TLS,
        r"\bx509: |certificate has expired|certificate verify failed|SSLHandshakeException"
        r"|tls: (?:handshake failure|bad certificate|failed to verify)|unknown (?:certificate )?authority"
        r"|CERT_HAS_EXPIRED|self[- ]signed certificate|SSL routines|PKIX path building failed",
    ),
    Pattern(
        Category.AUTH,
        r"\b401 Unauthorized|\b403 Forbidden|\bstatus(?: code)?[=: ]+40[13]\b|authentication failed"
        r"|invalid credentials|unauthenticated|\bis forbidden: User|invalid (?:api key|token)"
        r"|token (?:is )?expired|NOAUTH|WRONGPASS|access denied for user",
    ),
    # file system and process limits
    Pattern(Category.PERMISSION_DENIED, r"permission denied|EACCES|operation not permitted|\bEPERM\b"),
    Pattern(Category.READ_ONLY_FS, r"read-only file system|EROFS"),
    Pattern(Category.DISK_FULL, r"no space left on device|ENOSPC|disk (?:is )?full|disk quota exceeded"),
    Pattern(Category.TOO_MANY_OPEN_FILES, r"too many open files|EMFILE"),
    Pattern(Category.ADDRESS_IN_USE, r"address already in use|EADDRINUSE|BindException"),
    Pattern(
        Category.MISSING_FILE,
        r"no such file or directory|ENOENT|FileNotFoundError|FileNotFoundException|NoSuchFileException",
    ),
    Pattern(
        Category.MISSING_CONFIG,
        r"(?:environment variable|env var)[^\n]{0,80}(?:not set|is required|missing|undefined|empty)"
        r"|missing required (?:config|configuration|setting|environment|env|field|key|option)"
        r"|config(?:uration)? file[^\n]{0,40}not found|required key \[|KeyError: '[A-Z][A-Z0-9_]+'"
        r"|ImproperlyConfigured|ConfigException",
    ),
    # crashes
    Pattern(Category.PANIC, r"thread '[^'\n]*' panicked at|kernel panic|\bPANIC: "),
    Pattern(
        Category.SEGFAULT,
        r"segmentation fault|SIGSEGV|SIGABRT|SIGBUS|core dumped|fatal signal|\bsignal 11\b|segfault at",
    ),
    # multi-line traces: the lines that make a trace, by family
    Pattern(Category.PYTHON_TRACEBACK, r"^Traceback \(most recent call last\):", _PY),
    Pattern(Category.PYTHON_TRACEBACK, r"^[ \t]+File \"[^\"\n]+\", line \d+", _PY),
    Pattern(Category.PYTHON_TRACEBACK, r"^(?:During handling of|The above exception was)", _PY),
    Pattern(
        Category.JAVA_STACK_TRACE,
        r"^[ \t]+at [\w$.<>/]+\((?:[\w$.<>-]*(?::\d+)?|Native Method|Unknown Source)\)",
        _JAVA,
    ),
    Pattern(Category.JAVA_STACK_TRACE, r"^Caused by: |^[ \t]+\.\.\. \d+ (?:more|common frames)", _JAVA),
    Pattern(Category.JAVA_STACK_TRACE, r"Exception in thread \"", _JAVA),
    Pattern(Category.GO_PANIC, r"^panic: |^fatal error: |^goroutine \d+ \[[\w ,.-]+\]:", _GO),
    Pattern(Category.GO_PANIC, r"^[ \t]+/[\w./@+-]+\.go:\d+", _GO),
    Pattern(Category.GO_PANIC, r"^\[signal [A-Z]+", _GO),
    Pattern(Category.NODE_STACK_TRACE, r"^[ \t]+at [^\n]*(?:\.[cm]?[jt]sx?|node:[\w/]+):\d+:\d+", _NODE),
    # datastores
    Pattern(
        Category.POSTGRES,
        r"psycopg|PSQLException|asyncpg\.|\bpq: |SQLSTATE|password authentication failed"
        r"|too many clients already|remaining connection slots are reserved|deadlock detected"
        r"|relation \"[^\"\n]+\" does not exist|the database system is (?:starting up|shutting down)",
    ),
    Pattern(
        Category.MYSQL,
        r"\bERROR \d{4} \(\w{5}\)|MySQLdb|pymysql|mysql\.connector|MySQLNonTransientConnection"
        r"|Communications link failure|Too many connections|Lock wait timeout exceeded"
        r"|Deadlock found when trying|MySQL server has gone away|Can't connect to MySQL",
    ),
    Pattern(
        Category.REDIS,
        r"redis\.exceptions|Could not connect to Redis|Error connecting to Redis|MISCONF Redis|LOADING Redis"
        r"|READONLY You can't write|OOM command not allowed|CLUSTERDOWN|RedisConnectionException|ioredis",
    ),
    Pattern(
        Category.MESSAGE_BROKER,
        r"org\.apache\.kafka\.common\.errors|LEADER_NOT_AVAILABLE|NOT_LEADER_FOR_PARTITION"
        r"|Broker may not be available|kafka: client has run out of available brokers|KafkaError"
        r"|AMQPConnectionError|ACCESS_REFUSED|CONNECTION_FORCED|amqp[^\n]{0,40}(?:closed|refused|error)"
        r"|nats: no servers available|nats: timeout|PRECONDITION_FAILED",
    ),
    # kubelet and platform
    Pattern(Category.PROBE_FAILURE, r"(?:liveness|readiness|startup) probe failed|probe errored"),
    Pattern(Category.CRASH_LOOP, r"back-off restarting failed container|CrashLoopBackOff"),
    Pattern(
        Category.IMAGE_PULL,
        r"ErrImagePull|ImagePullBackOff|manifest unknown|pull access denied|failed to pull image",
    ),
    Pattern(
        Category.UPSTREAM_UNAVAILABLE,
        r"\b502 Bad Gateway|\b503 Service Unavailable|\b504 Gateway Time|upstream connect error"
        r"|no healthy upstream|UNAVAILABLE: ",
    ),
    Pattern(Category.RATE_LIMITED, r"\b429 Too Many Requests|rate limit(?:ed| exceeded)|Throttling"),
    *(_exit(code) for code in EXIT_CODES),
)

"""Realistic log excerpts, one or more per failure category, written for these tests.

Each entry maps a category to excerpts (a list of lines as a container or node would print them).
Texts follow the real messages of the kernel, JVM, Go runtime, V8, CPython, libpq, MySQL, Redis,
Kafka/RabbitMQ clients and the kubelet; hosts, ids and paths are made up.
"""

from __future__ import annotations

from aiops.enrichment.logs.patterns import Category

C = Category

JAVA_OOM = [
    "2024-05-01 10:42:07.118 ERROR 1 --- [nio-8080-exec-7] o.a.c.c.C.[.[.[/].[dispatcherServlet] : "
    "Servlet.service() threw exception",
    'Exception in thread "http-nio-8080-exec-7" java.lang.OutOfMemoryError: Java heap space',
    "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
    "\tat java.base/java.lang.AbstractStringBuilder.ensureCapacityInternal(AbstractStringBuilder.java:228)",
    "\tat java.base/java.lang.StringBuilder.append(StringBuilder.java:179)",
    "\tat com.example.report.CsvExporter.export(CsvExporter.java:88)",
    "\tat com.example.report.ReportController.download(ReportController.java:41)",
    "\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
    "\t... 48 common frames omitted",
    "2024-05-01 10:42:09.004  INFO 1 --- [           main] c.e.Application : shutting down",
]

GO_PANIC = [
    '{"level":"info","ts":1714560000.1,"msg":"serving","addr":":8080"}',
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f5b2a]",
    "",
    "goroutine 42 [running]:",
    "github.com/example/api/internal/store.(*Store).Get(0x0, {0xc0001a4000, 0x24})",
    "\t/src/internal/store/store.go:57 +0x2a",
    "github.com/example/api/internal/http.(*Handler).getItem(0xc000132000, {0x8d1f20, 0xc0002a00e0}, 0x0)",
    "\t/src/internal/http/items.go:31 +0x9c",
    "net/http.HandlerFunc.ServeHTTP(0x0?, {0x8d1f20?, 0xc0002a00e0?}, 0x0?)",
    "\t/usr/local/go/src/net/http/server.go:2136 +0x29",
    "created by net/http.(*Server).Serve in goroutine 1",
    "\t/usr/local/go/src/net/http/server.go:3086 +0x4cc",
    "",
    "goroutine 1 [IO wait]:",
    "internal/poll.runtime_pollWait(0x7f0b3c2e1e28, 0x72)",
    "\t/usr/local/go/src/runtime/netpoll.go:343 +0x85",
    "exit status 2",
]

PYTHON_TO_POSTGRES = [
    "INFO:     Started server process [1]",
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/app/orders/db.py", line 18, in connect',
    "    return psycopg.connect(settings.database_url, connect_timeout=5)",
    '  File "/usr/local/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect',
    "    raise last_ex.with_traceback(None)",
    'psycopg.OperationalError: connection failed: FATAL:  password authentication failed for user "orders"',
    "INFO:     Shutting down",
]

NODE_TRACE = [
    "Server listening on :3000",
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "    at getUser (/usr/src/app/src/users.js:27:21)",
    "    at Layer.handle [as handle_request] (/usr/src/app/node_modules/express/lib/router/layer.js:95:5)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "GET /users/17 500 12.345 ms - 21",
]

EXCERPTS: dict[Category, list[list[str]]] = {
    C.OOM_KERNEL: [
        [
            "[183872.223451] java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=968",
            "[183872.223502] memory: usage 524288kB, limit 524288kB, failcnt 9042",
            "[183872.223677] Memory cgroup out of memory: Killed process 22841 (java) total-vm:4012344kB, "
            "anon-rss:520112kB, file-rss:14236kB, shmem-rss:0kB, UID:1000 pgtables:1284kB oom_score_adj:968",
        ],
        ["    Last State:     Terminated", "      Reason:       OOMKilled", "      Exit Code:    137"],
    ],
    C.OOM_JAVA: [JAVA_OOM, ["java.lang.OutOfMemoryError: Metaspace"]],
    C.OOM_GO: [
        [
            "fatal error: runtime: out of memory",
            "",
            "runtime stack:",
            "runtime.throw({0x9b3e21?, 0x400000?})",
            "\t/usr/local/go/src/runtime/panic.go:1077 +0x5c fp=0x7ffd2c1a1e40 sp=0x7ffd2c1a1e10",
        ]
    ],
    C.OOM_NODE: [
        [
            "<--- Last few GCs --->",
            "[1:0x5d8c6b0]   812345 ms: Mark-Compact 2043.1 (2083.4) -> 2041.9 (2084.1) MB, 1650.2 / 0.0 ms "
            "(average mu = 0.121, current mu = 0.007) allocation failure; scavenge might not succeed",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        ]
    ],
    C.OOM_PYTHON: [
        ["Traceback (most recent call last):", '  File "etl.py", line 9, in <module>', "MemoryError"]
    ],
    C.CONNECTION_REFUSED: [
        ["dial tcp 10.96.14.3:6379: connect: connection refused"],
        ["Error: connect ECONNREFUSED 127.0.0.1:5672"],
    ],
    C.CONNECTION_RESET: [
        [
            'level=warn msg="proxy error" err="read tcp 10.244.1.7:43122->10.96.0.12:80: read: '
            'connection reset by peer"'
        ],
        ["Error: read ECONNRESET"],
    ],
    C.TIMEOUT: [
        ["rpc error: code = DeadlineExceeded desc = context deadline exceeded"],
        ['Get "http://payments:8080/healthz": dial tcp 10.96.3.4:8080: i/o timeout'],
        ["java.net.SocketTimeoutException: Read timed out"],
    ],
    C.DNS: [
        ["dial tcp: lookup postgres.prod.svc.cluster.local on 10.96.0.10:53: no such host"],
        ["Error: getaddrinfo ENOTFOUND redis-master"],
        [";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 41233"],
        ["socket.gaierror: [Errno -3] Temporary failure in name resolution"],
        ["java.net.UnknownHostException: kafka-0.kafka-headless: Name or service not known"],
    ],
    C.TLS: [
        ['Get "https://registry.internal/v2/": x509: certificate signed by unknown authority'],
        [
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
            "current time 2024-05-01T10:00:00Z is after 2024-04-30T23:59:59Z"
        ],
        [
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate in certificate chain (_ssl.c:1006)"
        ],
        ["javax.net.ssl.SSLHandshakeException: PKIX path building failed"],
    ],
    C.AUTH: [
        ['time="2024-05-01T10:00:00Z" level=error msg="upstream returned 401 Unauthorized"'],
        [
            'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:ci:deployer" '
            'cannot list resource "pods" in API group "" in the namespace "prod"'
        ],
        ["botocore.exceptions.ClientError: An error occurred (403) ... HTTP 403 Forbidden"],
        ["Error: authentication failed: invalid credentials for user admin"],
    ],
    C.PERMISSION_DENIED: [
        ["open /var/lib/app/data.db: permission denied"],
        ["Error: EACCES: permission denied, mkdir '/usr/src/app/.cache'"],
        ["chown: changing ownership of '/data': Operation not permitted"],
    ],
    C.READ_ONLY_FS: [["OSError: [Errno 30] Read-only file system: '/app/tmp/session.lock'"]],
    C.DISK_FULL: [
        ["write /var/lib/postgresql/data/pg_wal/xlogtemp.32: no space left on device"],
        ["Error: ENOSPC: no space left on device, write"],
    ],
    C.TOO_MANY_OPEN_FILES: [
        ["http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying"]
    ],
    C.ADDRESS_IN_USE: [
        ["listen tcp :8080: bind: address already in use"],
        ["java.net.BindException: Address already in use"],
    ],
    C.MISSING_FILE: [
        ["open /etc/app/config.yaml: no such file or directory"],
        ["FileNotFoundError: [Errno 2] No such file or directory: '/secrets/token'"],
    ],
    C.MISSING_CONFIG: [
        ["Error: environment variable DATABASE_URL is not set"],
        ["KeyError: 'STRIPE_API_KEY'"],
        ["django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."],
        ["fatal: missing required configuration: broker.url"],
    ],
    C.PANIC: [
        ["thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:14:37"],
        ["[    2.081235] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"],
    ],
    C.SEGFAULT: [
        [
            "[81231.112] app[4123]: segfault at 0 ip 000055d1c2f0a1b2 sp 00007ffd5c1e3e40 error 4 "
            "in app[55d1c2f00000+2e000]"
        ],
        ["/entrypoint.sh: line 12:    57 Segmentation fault      (core dumped) ./server"],
        ["Fatal Python error: Aborted (SIGABRT)"],
    ],
    C.PYTHON_TRACEBACK: [PYTHON_TO_POSTGRES],
    C.JAVA_STACK_TRACE: [JAVA_OOM],
    C.GO_PANIC: [GO_PANIC],
    C.NODE_STACK_TRACE: [NODE_TRACE],
    C.POSTGRES: [
        PYTHON_TO_POSTGRES,
        ["2024-05-01 10:00:00.000 UTC [71] FATAL:  sorry, too many clients already"],
        ['ERROR:  relation "orders" does not exist at character 15'],
        ["org.postgresql.util.PSQLException: Connection to db:5432 refused."],
    ],
    C.MYSQL: [
        ["ERROR 1045 (28000): Access denied for user 'app'@'10.244.2.9' (using password: YES)"],
        ["com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure"],
        ["pymysql.err.OperationalError: (1040, 'Too many connections')"],
    ],
    C.REDIS: [
        ["redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused."],
        ["MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."],
        ["(error) OOM command not allowed when used memory > 'maxmemory'."],
    ],
    C.MESSAGE_BROKER: [
        [
            "[Producer clientId=producer-1] Connection to node -1 (kafka/10.96.7.7:9092) could not be "
            "established. Broker may not be available."
        ],
        ["pika.exceptions.AMQPConnectionError: (ConnectionRefusedError(111, 'Connection refused'),)"],
        ["kafka: client has run out of available brokers to talk to: dial tcp: lookup kafka: no such host"],
        ["nats: no servers available for connection"],
    ],
    C.PROBE_FAILURE: [
        [
            'Warning  Unhealthy  12s (x3 over 32s)  kubelet  Liveness probe failed: Get "http://10.244.1.7:8080/'
            'healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        ],
        ["Readiness probe failed: HTTP probe failed with statuscode: 503"],
    ],
    C.CRASH_LOOP: [
        ["Warning  BackOff  2m (x31 over 9m)  kubelet  Back-off restarting failed container app in pod web-0"]
    ],
    C.IMAGE_PULL: [
        [
            'Failed to pull image "registry.example.com/web:1.4.2": rpc error: code = NotFound '
            "desc = manifest unknown"
        ],
        ["Warning  Failed  kubelet  Error: ImagePullBackOff"],
    ],
    C.UPSTREAM_UNAVAILABLE: [
        ['10.244.0.1 - - [01/May/2024:10:00:00 +0000] "GET /api HTTP/1.1" 502 Bad Gateway'],
        ["upstream connect error or disconnect/reset before headers. reset reason: connection failure"],
    ],
    C.RATE_LIMITED: [
        ["HTTP/1.1 429 Too Many Requests"],
        ["GitHub API rate limit exceeded for installation 4242"],
    ],
    C.EXIT_1: [["Error: process exited with code 1"], ["main process exited, code=exited, status=1/FAILURE"]],
    C.EXIT_126: [["/bin/sh: ./run.sh: Permission denied", "command terminated with exit code 126"]],
    C.EXIT_127: [['exec: "gunicorn": executable file not found in $PATH', "exit status 127"]],
    C.EXIT_137: [
        ["Container app terminated: reason=OOMKilled exitCode=137"],
        ["container exited with code 137"],
    ],
    C.EXIT_139: [["Last State: Terminated, Exit Code: 139"]],
    C.EXIT_143: [["worker exited with code 143 after SIGTERM"]],
}

#: Healthy lines that must not produce any finding.
BENIGN = [
    "2024-05-01T10:00:00Z INFO request completed method=GET path=/api/items status=200 duration=12ms",
    "Connected to postgres at db:5432 (pool size 10)",
    "Listening on 0.0.0.0:8080",
    "cache warmed: 1024 entries in 0.8s",
    "exit code 0",
    "status code 200",
    "GET /health 200 OK",
]

#!/usr/bin/python3
"""icdeploy -- deploys, inspects and removes a pool of InfiniCache node functions on AWS Lambda
(or the local platform) through the AWS CLI: `icdeploy up|status|down` (docs/DEPLOY-AWS.md)."""
import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import random
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time

OWNER_TAG = "icdeploy:prefix"  # a function or role carrying it with our prefix is ours to change
HANDLER = "bootstrap"          # a custom runtime ignores the handler; Lambda still wants one
REDACTED = "<redacted>"
SECRET_VARS = ("IC_NODE_SECRET", "IC_NODE_SECRET_PREVIOUS")
# Error types that mean "slow down and try again" (Lambda, IAM, STS and the CLI's own words).
THROTTLE_TYPES = {"TooManyRequestsException", "ThrottlingException", "Throttling",
                  "ThrottledException", "RequestLimitExceeded", "ServiceException",
                  "EC2ThrottledException", "ServiceUnavailableException"}
# Lambda refuses a change while the previous one is still being applied.
BUSY_MESSAGES = ("The operation cannot be performed at this time", "An update is in progress")
# A role just made by IAM is not yet usable by Lambda for some seconds.
ROLE_NOT_READY = "cannot be assumed by Lambda"


class AwsError(Exception):
    """A failed AWS call: Lambda's (or IAM's) error type and message, and the operation."""

    def __init__(self, error_type, message, operation=""):
        super().__init__("%s: %s" % (error_type, message))
        self.error_type = error_type
        self.message = message
        self.operation = operation


class DeployError(Exception):
    """A mistake icdeploy explains to the user and stops on."""


def redact(text, secret_values):
    for value in secret_values:
        if value:
            text = text.replace(value, REDACTED)
    return text


def shell_words(argv):
    return " ".join(shlex.quote(a) for a in argv)


# ---- running the AWS CLI ----

class CliRunner:
    """Runs one AWS CLI call per subprocess and decodes its JSON answer. The endpoint options
    apply to every call (--endpoint-url) or to IAM and STS only (--iam-endpoint-url)."""

    ERROR_RE = re.compile(r"An error occurred \(([^)]+)\)(?: when calling the (\w+) operation)?"
                          r"[^:]*: (.*)", re.S)

    def __init__(self, aws="/usr/bin/aws", region=None, endpoint_url=None,
                 iam_endpoint_url=None, profile=None):
        self.aws, self.region, self.profile = aws, region, profile
        self.endpoint_url, self.iam_endpoint_url = endpoint_url, iam_endpoint_url

    def argv(self, service, operation, args):
        argv = [self.aws, service, operation] + list(args)
        return argv

    def global_options(self, service):
        opts = ["--output", "json"]
        if self.region:
            opts += ["--region", self.region]
        if self.profile:
            opts += ["--profile", self.profile]
        endpoint = self.iam_endpoint_url if service in ("iam", "sts") else self.endpoint_url
        if endpoint:
            opts += ["--endpoint-url", endpoint]
        return opts

    def __call__(self, service, operation, args):
        argv = self.argv(service, operation, args) + self.global_options(service)
        env = dict(os.environ, AWS_PAGER="")
        try:
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        except FileNotFoundError:
            raise DeployError("no AWS CLI at %s (Debian: apt-get install awscli)" % self.aws)
        except subprocess.TimeoutExpired:
            raise AwsError("Timeout", "the AWS CLI did not finish in 900 s", operation)
        if r.returncode != 0:
            m = self.ERROR_RE.search(r.stderr)
            if m:
                raise AwsError(m.group(1), m.group(3).strip(), m.group(2) or operation)
            raise AwsError("CliError", r.stderr.strip() or "exit %d" % r.returncode, operation)
        return json.loads(r.stdout) if r.stdout.strip() else {}


class Aws:
    """The calls icdeploy makes, through a runner (the CLI, or a fake in tests): reads always run,
    writes are printed instead under --dry-run. Throttled and busy calls are retried with
    exponential backoff and jitter; writes are paced below Lambda's control-plane quota (15 per
    second per region) and reads below GetFunction's (100 per second)."""

    def __init__(self, runner, dry_run=False, out=sys.stdout, err=None, secret_values=(),
                 write_rate=10.0, read_rate=40.0, max_attempts=8, sleep=time.sleep,
                 clock=time.monotonic, verbose=False):
        self.runner, self.dry_run, self.out = runner, dry_run, out
        self.err = err or out
        self.secret_values = list(secret_values)
        self.max_attempts, self.sleep, self.clock, self.verbose = max_attempts, sleep, clock, verbose
        self.lock = threading.Lock()
        self.pace = {True: [write_rate, 0.0], False: [read_rate, 0.0]}  # rate, next slot
        self.writes = []  # every write made or (dry run) that would be made: (service, op, args)
        self.retries = 0

    def say(self, text, error=False):
        stream = self.err if error else self.out
        with self.lock:
            stream.write(redact(text, self.secret_values) + "\n")
            stream.flush()

    def wait_turn(self, write):
        with self.lock:
            rate, slot = self.pace[write]
            now = self.clock()
            start = max(now, slot)
            self.pace[write][1] = start + 1.0 / rate
        if start > now:
            self.sleep(start - now)

    def call(self, service, operation, args=(), write=False, retry_busy=True, retry_on=()):
        """One call; returns its decoded answer ({} for a dry-run write). Raises AwsError."""
        args = list(args)
        if write:
            with self.lock:
                self.writes.append((service, operation, args))
            if self.dry_run:
                self.say("would run: aws %s %s %s" % (service, operation, shell_words(args)))
                return {}
        if self.verbose:
            self.say("aws %s %s %s" % (service, operation, shell_words(args)))
        attempt = 0
        while True:
            attempt += 1
            self.wait_turn(write)
            try:
                return self.runner(service, operation, args)
            except AwsError as e:
                retryable = (e.error_type in THROTTLE_TYPES or
                             (retry_busy and e.error_type == "ResourceConflictException" and
                              any(m in e.message for m in BUSY_MESSAGES)) or
                             any(text in e.message for text in retry_on))
                if not retryable or attempt >= self.max_attempts:
                    raise
                with self.lock:
                    self.retries += 1
                # Full jitter: 0.5 s doubling up to 20 s, so parallel workers spread out.
                self.sleep(random.uniform(0, min(20.0, 0.5 * 2 ** attempt)))

    def wait(self, waiter, function_name):
        """aws lambda wait WAITER: until the function is Active (or its update done)."""
        args = ["--function-name", function_name]
        if self.dry_run:
            self.say("would run: aws lambda wait %s %s" % (waiter, shell_words(args)))
            return
        self.call("lambda", "wait", [waiter] + args)


# ---- the wanted state ----

def function_names(prefix, count):
    return ["%s%d" % (prefix, i) for i in range(count)]


def name_index(prefix, name):
    """The pool index of a function named PREFIXn, or None for another name."""
    m = re.fullmatch(re.escape(prefix) + r"(0|[1-9][0-9]*)", name)
    return int(m.group(1)) if m else None


def role_name(prefix):
    return "%s-icnode" % prefix


def zip_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return base64.b64encode(h.digest()).decode()


def trust_policy():
    """Who may take the functions' role: the Lambda service only."""
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}]}


def node_policy(prefix, region, account, vpc=False):
    """What a node needs and nothing more: write its own log groups, and invoke the pool's own
    functions (a node starts its backup peer by invoking its own function). IAM has no exact
    match on a name pattern like PREFIX[0-9]+, so the prefix must not begin another function's
    name in the account. In a VPC, Lambda needs the role to manage the functions' network
    interfaces, and those EC2 actions take no resource restriction."""
    log_group = "arn:aws:logs:%s:%s:log-group:/aws/lambda/%s*" % (region, account, prefix)
    statements = [
        {"Sid": "OwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_group, log_group + ":log-stream:*"]},
        {"Sid": "BackupInvokesOwnFunctions", "Effect": "Allow",
         "Action": "lambda:InvokeFunction",
         "Resource": "arn:aws:lambda:%s:%s:function:%s*" % (region, account, prefix)},
    ]
    if vpc:
        statements.append(
            {"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
             "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses"],
             "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


class Spec:
    """What `up` makes: count functions PREFIX0.. with one configuration, code and tags."""

    def __init__(self, prefix, count, memory, timeout, arch, runtime, role_arn, zip_path,
                 code_sha256, environment, max_event_age, subnets=(), security_groups=(),
                 create_role=False):
        self.prefix, self.count, self.memory, self.timeout = prefix, count, memory, timeout
        self.arch, self.runtime, self.role_arn = arch, runtime, role_arn
        self.zip_path, self.code_sha256 = zip_path, code_sha256
        self.environment = dict(environment)
        self.max_event_age = max_event_age
        self.subnets, self.security_groups = sorted(subnets), sorted(security_groups)
        self.create_role = create_role

    def tags(self):
        return {OWNER_TAG: self.prefix, "icdeploy:managed-by": "icdeploy"}

    def names(self):
        return function_names(self.prefix, self.count)


# ---- the actual state and the difference ----

class Actual:
    """One existing function as Lambda describes it: configuration, tags, event-invoke config
    (None when it has none)."""

    def __init__(self, configuration, tags, event_config):
        self.configuration, self.tags, self.event_config = configuration, tags or {}, event_config


def read_function(aws, name):
    """The function's Actual, or None if it does not exist."""
    try:
        doc = aws.call("lambda", "get-function", ["--function-name", name])
    except AwsError as e:
        if e.error_type == "ResourceNotFoundException":
            return None
        raise
    try:
        event = aws.call("lambda", "get-function-event-invoke-config", ["--function-name", name])
    except AwsError as e:
        if e.error_type != "ResourceNotFoundException":
            raise
        event = None
    return Actual(doc.get("Configuration", {}), doc.get("Tags"), event)


def list_pool(aws, prefix):
    """Names of the existing functions named PREFIXn (any n), by index."""
    listed = aws.call("lambda", "list-functions", [])
    names = [f["FunctionName"] for f in listed.get("Functions", [])]
    return sorted((n for n in names if name_index(prefix, n) is not None),
                  key=lambda n: name_index(prefix, n))


def read_pool(aws, prefix, parallel):
    """{name: Actual} for every function named PREFIXn."""
    names = list_pool(aws, prefix)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as ex:
        found = dict(zip(names, ex.map(lambda n: read_function(aws, n), names)))
    return {n: a for n, a in found.items() if a is not None}


def is_ours(spec_prefix, actual):
    return actual.tags.get(OWNER_TAG) == spec_prefix


def configuration_changes(spec, conf):
    """Human-readable differences of configuration, and whether the environment is one of them.
    Secret values never appear: only the variable's name."""
    changes = []
    for key, want in (("MemorySize", spec.memory), ("Timeout", spec.timeout),
                      ("Runtime", spec.runtime), ("Handler", HANDLER), ("Role", spec.role_arn)):
        have = conf.get(key)
        if have != want:
            changes.append("%s %s (wanted %s)" % (key, have, want))
    have_env = (conf.get("Environment") or {}).get("Variables") or {}
    for var in sorted(set(have_env) | set(spec.environment)):
        if have_env.get(var) != spec.environment.get(var):
            if var in SECRET_VARS:
                changes.append("Environment %s %s" % (var, "differs" if var in have_env and
                                                      var in spec.environment else
                                                      "missing" if var in spec.environment
                                                      else "unwanted"))
            else:
                changes.append("Environment %s %s (wanted %s)"
                               % (var, have_env.get(var), spec.environment.get(var)))
    vpc = conf.get("VpcConfig") or {}
    if (sorted(vpc.get("SubnetIds") or []) != spec.subnets or
            sorted(vpc.get("SecurityGroupIds") or []) != spec.security_groups):
        changes.append("VpcConfig subnets %s security groups %s (wanted %s, %s)"
                       % (",".join(vpc.get("SubnetIds") or []) or "none",
                          ",".join(vpc.get("SecurityGroupIds") or []) or "none",
                          ",".join(spec.subnets) or "none",
                          ",".join(spec.security_groups) or "none"))
    return changes


class FunctionPlan:
    """What `up` does to one function. kind: create, update, match, foreign (exists, not ours:
    up refuses), extra (ours, beyond --count: up deletes it)."""

    def __init__(self, name, kind, code=None, configuration=(), event_config=None, tags=None,
                 busy=False, arn=None):
        self.name, self.kind, self.arn = name, kind, arn
        self.code = code                        # why the code is updated, or None
        self.configuration = list(configuration)  # configuration differences
        self.event_config = event_config        # why the event-invoke config is put, or None
        self.tags = tags                        # tags to add, or None
        self.busy = busy                        # a change is still being applied: wait first

    def changes(self):
        out = []
        if self.code:
            out.append(self.code)
        out += self.configuration
        if self.event_config:
            out.append(self.event_config)
        if self.tags:
            out.append("tags %s missing" % ",".join(sorted(self.tags)))
        if self.busy:
            out.append("an earlier change is still being applied")
        return out


def plan_function(spec, name, actual):
    if actual is None:
        return FunctionPlan(name, "create")
    if not is_ours(spec.prefix, actual):
        return FunctionPlan(name, "foreign")
    conf = actual.configuration
    code = None
    if conf.get("CodeSha256") != spec.code_sha256:
        code = "code %s (wanted %s)" % (conf.get("CodeSha256"), spec.code_sha256)
    elif (conf.get("Architectures") or ["x86_64"]) != [spec.arch]:
        code = "architecture %s (wanted %s)" % (",".join(conf.get("Architectures") or []),
                                               spec.arch)
    event = None
    ev = actual.event_config
    if ev is None:
        event = "no event-invoke config (wanted 0 retries, maximum age %d s)" % spec.max_event_age
    elif (ev.get("MaximumRetryAttempts"), ev.get("MaximumEventAgeInSeconds")) != \
            (0, spec.max_event_age):
        event = "event-invoke config %s retries, maximum age %s s (wanted 0, %d s)" % (
            ev.get("MaximumRetryAttempts"), ev.get("MaximumEventAgeInSeconds"),
            spec.max_event_age)
    missing_tags = {k: v for k, v in spec.tags().items() if actual.tags.get(k) != v}
    busy = conf.get("State") == "Pending" or conf.get("LastUpdateStatus") == "InProgress"
    p = FunctionPlan(name, "update", code, configuration_changes(spec, conf), event,
                     missing_tags or None, busy, conf.get("FunctionArn"))
    if not p.changes():
        p.kind = "match"
    return p


def plan_pool(spec, actual):
    """The plan for every wanted function, then for our functions beyond --count."""
    plans = [plan_function(spec, n, actual.get(n)) for n in spec.names()]
    wanted = set(spec.names())
    for name in sorted(actual, key=lambda n: name_index(spec.prefix, n)):
        if name not in wanted and is_ours(spec.prefix, actual[name]):
            plans.append(FunctionPlan(name, "extra"))
    return plans


# ---- applying a plan ----

class Deployer:
    """Carries out plans with the calls of one Aws. Files handed to the CLI that hold the secret
    (the environment) are 0600 in a private temporary directory, so the secret is never on a
    command line (where other users of the machine could read it in /proc)."""

    def __init__(self, aws, spec, workdir):
        self.aws, self.spec = aws, spec
        self.environment_file = os.path.join(workdir, "environment.json")
        fd = os.open(self.environment_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"Variables": spec.environment}, f)

    def vpc_args(self):
        # JSON rather than the CLI's shorthand, which cannot say "no subnets" (leaving a VPC).
        return ["--vpc-config", json.dumps({"SubnetIds": self.spec.subnets,
                                            "SecurityGroupIds": self.spec.security_groups})]

    def configuration_args(self):
        s = self.spec
        return ["--runtime", s.runtime, "--role", s.role_arn, "--handler", HANDLER,
                "--memory-size", str(s.memory), "--timeout", str(s.timeout),
                "--environment", "file://" + self.environment_file,
                "--description", "InfiniCache cache node (icdeploy, pool %s)" % s.prefix]

    def put_event_config(self, name):
        self.aws.call("lambda", "put-function-event-invoke-config",
                      ["--function-name", name, "--maximum-retry-attempts", "0",
                       "--maximum-event-age-in-seconds", str(self.spec.max_event_age)],
                      write=True)

    def create(self, name):
        s = self.spec
        args = (["--function-name", name] + self.configuration_args() +
                ["--architectures", s.arch, "--zip-file", "fileb://" + s.zip_path,
                 "--tags", json.dumps(s.tags(), sort_keys=True)])
        if s.subnets or s.security_groups:
            args += self.vpc_args()
        # A role made a moment ago is refused until IAM has spread it: retry on those words.
        self.aws.call("lambda", "create-function", args, write=True,
                      retry_on=(ROLE_NOT_READY,) if s.create_role else ())
        self.put_event_config(name)
        self.aws.wait("function-active-v2", name)

    def update(self, plan):
        s = self.spec
        if plan.busy:
            self.aws.wait("function-updated-v2", plan.name)
        if plan.code:
            self.aws.call("lambda", "update-function-code",
                          ["--function-name", plan.name, "--zip-file", "fileb://" + s.zip_path,
                           "--architectures", s.arch], write=True)
            self.aws.wait("function-updated-v2", plan.name)
        if plan.configuration:
            args = ["--function-name", plan.name] + self.configuration_args()
            if any(c.startswith("VpcConfig") for c in plan.configuration):
                args += self.vpc_args()
            self.aws.call("lambda", "update-function-configuration", args, write=True)
            self.aws.wait("function-updated-v2", plan.name)
        if plan.event_config:
            self.put_event_config(plan.name)
        if plan.tags:
            self.aws.call("lambda", "tag-resource",
                          ["--resource", plan.arn, "--tags", json.dumps(plan.tags, sort_keys=True)],
                          write=True)

    def delete(self, name):
        self.aws.call("lambda", "delete-function", ["--function-name", name], write=True)


def run_parallel(jobs, parallel):
    """Runs (label, thunk) jobs on parallel workers. On the first failure no new job starts;
    the ones running finish. Returns [(label, exception)] of the failures."""
    failures = []
    stop = threading.Event()
    lock = threading.Lock()

    def run(label, thunk):
        if stop.is_set():
            return
        try:
            thunk()
        except (AwsError, DeployError) as e:
            with lock:
                failures.append((label, e))
            stop.set()

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as ex:
        for f in [ex.submit(run, label, thunk) for label, thunk in jobs]:
            f.result()
    return failures


# ---- the role ----

def ensure_role(aws, prefix, region, account, vpc):
    """Makes (or repairs) the functions' role with exactly node_policy; returns its ARN."""
    name = role_name(prefix)
    policy = json.dumps(node_policy(prefix, region, account, vpc), sort_keys=True)
    arn = "arn:aws:iam::%s:role/%s" % (account, name)
    try:
        role = aws.call("iam", "get-role", ["--role-name", name])["Role"]
    except AwsError as e:
        if e.error_type != "NoSuchEntity":
            raise
        role = None
    if role is None:
        aws.call("iam", "create-role",
                 ["--role-name", name, "--description",
                  "InfiniCache cache nodes of pool %s (icdeploy)" % prefix,
                  "--assume-role-policy-document", json.dumps(trust_policy(), sort_keys=True),
                  "--tags", "Key=%s,Value=%s" % (OWNER_TAG, prefix)], write=True)
        have = None
    else:
        arn = role.get("Arn", arn)
        if not any(t.get("Key") == OWNER_TAG and t.get("Value") == prefix
                   for t in role.get("Tags", [])):
            raise DeployError("role %s exists but icdeploy did not make it (no tag %s=%s); give "
                              "--role-arn %s to use it, or delete it" % (name, OWNER_TAG, prefix,
                                                                          arn))
        try:
            have = aws.call("iam", "get-role-policy",
                            ["--role-name", name, "--policy-name", name])["PolicyDocument"]
            if isinstance(have, str):
                have = json.loads(have)
        except AwsError as e:
            if e.error_type != "NoSuchEntity":
                raise
            have = None
    if have != json.loads(policy):
        aws.call("iam", "put-role-policy", ["--role-name", name, "--policy-name", name,
                                            "--policy-document", policy], write=True)
    return arn


def delete_role(aws, prefix):
    """Removes the role if icdeploy made it; returns whether there was one."""
    name = role_name(prefix)
    try:
        role = aws.call("iam", "get-role", ["--role-name", name])["Role"]
    except AwsError as e:
        if e.error_type == "NoSuchEntity":
            return False
        raise
    if not any(t.get("Key") == OWNER_TAG and t.get("Value") == prefix
               for t in role.get("Tags", [])):
        aws.say("role %s was not made by icdeploy: left alone" % name)
        return False
    try:
        aws.call("iam", "delete-role-policy", ["--role-name", name, "--policy-name", name],
                 write=True)
    except AwsError as e:
        if e.error_type != "NoSuchEntity":
            raise
    aws.call("iam", "delete-role", ["--role-name", name], write=True)
    return True


# ---- the commands ----

DEFAULTS = {"count": 400, "memory": 1536, "timeout": 300, "arch": "x86_64",
            "runtime": "provided.al2023", "log_level": "info", "max_event_age": 60,
            "subnets": "", "security_groups": "", "create_role": False, "role_arn": None,
            "zip": None, "node_secret_file": None}
SAVED = list(DEFAULTS) + ["region", "endpoint_url", "iam_endpoint_url"]


def state_dir(args):
    return args.state_dir or "icdeploy-%s" % args.prefix


def resolve(args):
    """Each option: given on the command line, else what the last `up` of this prefix saved in
    its state directory, else the default. So `status` and `down` need only --prefix."""
    saved = {}
    path = os.path.join(state_dir(args), "deployment.json")
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
    for key in SAVED:
        if getattr(args, key, None) is None:
            setattr(args, key, saved.get(key, DEFAULTS.get(key)))
    if args.zip is None:
        here = os.path.dirname(os.path.realpath(__file__))
        args.zip = os.path.join(here, "..", "function-%s.zip" % args.arch)
    args.zip = os.path.abspath(args.zip)
    if args.node_secret_file is None:
        args.node_secret_file = os.path.join(state_dir(args), "node-secret")
    args.node_secret_file = os.path.abspath(args.node_secret_file)
    return saved


def save_state(args):
    os.makedirs(state_dir(args), mode=0o700, exist_ok=True)
    path = os.path.join(state_dir(args), "deployment.json")
    with open(path + ".tmp", "w") as f:
        json.dump({k: getattr(args, k) for k in SAVED}, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def read_secret(path, create, dry_run, say):
    """The node secret (and the previous one) from path; made (0600) if missing."""
    if not os.path.exists(path):
        if not create:
            return None, None
        if dry_run:
            say("would create the node secret file %s (mode 0600)" % path)
            return "not-yet-created-" + secrets.token_hex(8), None
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        say("created the node secret file %s (mode 0600)" % path)
    with open(path) as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    if not lines:
        raise DeployError("the node secret file %s is empty" % path)
    return lines[0], (lines[1] if len(lines) > 1 else None)


def account_id(aws, args):
    if args.account_id:
        return args.account_id
    if args.role_arn:
        return args.role_arn.split(":")[4]
    return aws.call("sts", "get-caller-identity", [])["Account"]


def make_spec(args, secret, previous, role_arn):
    env = {"IC_NODE_SECRET": secret, "IC_NODE_LOG_LEVEL": args.log_level}
    if previous:
        env["IC_NODE_SECRET_PREVIOUS"] = previous
    code = zip_sha256(args.zip) if os.path.exists(args.zip) else None
    return Spec(args.prefix, args.count, args.memory, args.timeout, args.arch, args.runtime,
                role_arn, args.zip, code, env, args.max_event_age,
                [s for s in args.subnets.split(",") if s],
                [g for g in args.security_groups.split(",") if g], args.create_role)


def proxy_config(args, spec):
    """icproxy's options for this pool (docs/icproxy.conf format)."""
    endpoint = args.endpoint_url or "https://lambda.%s.amazonaws.com" % args.region
    return "\n".join([
        "# icproxy options for the pool icdeploy deployed: icproxy --config FILE",
        "# (%s, prefix %s, %d x %d MiB, %s)" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            spec.prefix, spec.count, spec.memory, spec.arch),
        "platform-endpoint %s" % endpoint,
        "aws-sigv4 aws:amz:%s:lambda" % args.region,
        "function-prefix %s" % spec.prefix,
        "pool-size %d" % spec.count,
        "node-memory %d" % spec.memory,
        "node-secret-file %s" % args.node_secret_file,
        "# The functions dial the proxy: set the address they reach it at (docs/DEPLOY-AWS.md):",
        "# auto is the EC2 instance's private address (a VPC), or name a public HOST:6388.",
        "# node-advertise auto",
        ""])


def print_plan(aws, plans, verbose):
    counts = {}
    for p in plans:
        counts[p.kind] = counts.get(p.kind, 0) + 1
        if p.kind == "create":
            aws.say("  %s  missing" % p.name)
        elif p.kind == "update":
            aws.say("  %s  differs: %s" % (p.name, "; ".join(p.changes())))
        elif p.kind == "foreign":
            aws.say("  %s  exists but was not made by icdeploy (no tag %s): up will not touch "
                    "it; delete it or choose another --prefix" % (p.name, OWNER_TAG))
        elif p.kind == "extra":
            aws.say("  %s  made by icdeploy beyond --count: up deletes it" % p.name)
        elif verbose:
            aws.say("  %s  matches" % p.name)
    return counts


def summary(counts):
    words = [("match", "match"), ("create", "missing"), ("update", "differ"),
             ("extra", "extra"), ("foreign", "not icdeploy's")]
    return ", ".join("%d %s" % (counts[k], w) for k, w in words if counts.get(k))


def command_up(args, aws, workdir):
    if not os.path.exists(args.zip):
        raise DeployError("no deployment package %s (make package builds it; or --zip FILE)"
                          % args.zip)
    if not args.dry_run:
        save_state(args)  # before any change, so status and down know an interrupted up
    secret, previous = read_secret(args.node_secret_file, True, args.dry_run, aws.say)
    aws.secret_values += [secret, previous]
    if args.create_role:
        if args.endpoint_url and not args.iam_endpoint_url:
            raise DeployError("--create-role: IAM is not at --endpoint-url (give "
                              "--iam-endpoint-url, or --role-arn)")
        role_arn = ensure_role(aws, args.prefix, args.region, account_id(aws, args),
                               bool(args.subnets))
        args.role_arn = role_arn
        if not args.dry_run:
            save_state(args)
    elif args.role_arn:
        role_arn = args.role_arn
    else:
        raise DeployError("give --role-arn ARN (the functions' role) or --create-role")
    spec = make_spec(args, secret, previous, role_arn)
    plans = plan_pool(spec, read_pool(aws, args.prefix, args.parallel))
    counts = print_plan(aws, plans, args.verbose)
    foreign = [p.name for p in plans if p.kind == "foreign"]
    if foreign:
        raise DeployError("%d function(s) named like the pool exist without icdeploy's tag: %s"
                          % (len(foreign), ", ".join(foreign[:10])))
    deployer = Deployer(aws, spec, workdir)
    jobs = []
    for p in plans:
        if p.kind == "create":
            jobs.append(("create " + p.name, lambda p=p: deployer.create(p.name)))
        elif p.kind == "update":
            jobs.append(("update " + p.name, lambda p=p: deployer.update(p)))
        elif p.kind == "extra":
            jobs.append(("delete " + p.name, lambda p=p: deployer.delete(p.name)))
    failures = run_parallel(jobs, args.parallel)
    if failures:
        for label, e in failures:
            aws.say("icdeploy: %s failed: %s" % (label, describe(e)), error=True)
        raise DeployError("stopped: the pool is partly deployed. `icdeploy status --prefix %s` "
                          "shows what differs; `icdeploy up` again finishes it once the cause "
                          "is fixed" % args.prefix)
    changed = len(jobs)
    if args.dry_run:
        aws.say("dry run: %d function(s) would change (%s); %d call(s) would be made"
                % (changed, summary(counts), len(aws.writes)))
    else:
        aws.say("up: pool %s ready, %d function(s) (%s); %d changed with %d call(s)%s"
                % (args.prefix, spec.count, summary(counts), changed, len(aws.writes),
                   ", %d retried" % aws.retries if aws.retries else ""))
    conf = proxy_config(args, spec)
    aws.say("icproxy options:\n" + conf.rstrip())
    if args.proxy_config and not args.dry_run:
        with open(args.proxy_config, "w") as f:
            f.write(conf)
    return 0


def command_status(args, aws):
    secret, previous = read_secret(args.node_secret_file, False, False, aws.say)
    aws.secret_values += [secret, previous]
    # With --create-role, up saved the role's ARN once it knew it.
    spec = make_spec(args, secret or "", previous, args.role_arn)
    actual = read_pool(aws, args.prefix, args.parallel)
    plans = plan_pool(spec, actual)
    aws.say("pool %s: %d wanted (%d MiB, %s, timeout %d s, %s), %d exist"
            % (args.prefix, spec.count, spec.memory, spec.arch, spec.timeout, spec.runtime,
               len(actual)))
    if secret is None:
        aws.say("  no node secret file %s: up creates one" % args.node_secret_file)
    if spec.code_sha256 is None:
        aws.say("  no deployment package %s: code is not compared" % args.zip)
        for p in plans:
            p.code = None
            if p.kind == "update" and not p.changes():
                p.kind = "match"
    counts = print_plan(aws, plans, args.verbose)
    aws.say("status: %s" % (summary(counts) or "nothing deployed"))
    differs = any(p.kind != "match" for p in plans)
    if differs:
        aws.say("`icdeploy up --prefix %s` makes it match" % args.prefix)
    return 1 if differs else 0


def command_down(args, aws):
    actual = read_pool(aws, args.prefix, args.parallel)
    ours = [n for n, a in actual.items() if is_ours(args.prefix, a)]
    for n, a in actual.items():
        if n not in ours:
            aws.say("  %s was not made by icdeploy: left alone" % n)
    failures = run_parallel([("delete " + n, lambda n=n: aws.call(
        "lambda", "delete-function", ["--function-name", n], write=True)) for n in ours],
        args.parallel)
    if failures:
        for label, e in failures:
            aws.say("icdeploy: %s failed: %s" % (label, describe(e)), error=True)
        raise DeployError("stopped; `icdeploy down --prefix %s` again removes the rest"
                          % args.prefix)
    # The role goes too if icdeploy made it, even when the saved options were lost; a deployer
    # that never made one may lack the IAM permissions to look, which is then no error.
    role = False
    if args.endpoint_url and not args.iam_endpoint_url:
        if args.create_role:
            aws.say("role %s: IAM is not at --endpoint-url; give --iam-endpoint-url to remove it"
                    % role_name(args.prefix))
    else:
        try:
            role = delete_role(aws, args.prefix)
        except AwsError as e:
            if args.create_role or e.error_type not in ("AccessDenied", "AccessDeniedException"):
                raise
    state = os.path.join(state_dir(args), "deployment.json")
    if not args.dry_run and os.path.exists(state):
        os.unlink(state)
    aws.say("%s: %d function(s)%s removed%s" % (
        "dry run" if args.dry_run else "down", len(ours), " and the role" if role else "",
        " (would be)" if args.dry_run else ""))
    return 0


def describe(e):
    if isinstance(e, AwsError):
        return "%s%s: %s" % (e.error_type, " (%s)" % e.operation if e.operation else "",
                             e.message)
    return str(e)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="icdeploy", description="Deploy, inspect and remove a pool of InfiniCache node "
        "functions on AWS Lambda through the AWS CLI (docs/DEPLOY-AWS.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  icdeploy up --prefix ic --count 400 --memory 1536 --arch arm64 --create-role \\
      --proxy-config icproxy.conf
  icdeploy up --prefix ic --dry-run     # every change it would make, none made
  icdeploy status --prefix ic           # exit 0: matches; 1: what differs is listed
  icdeploy down --prefix ic             # the functions (and role) it made
exit codes: 0 done (status: matches), 1 status: differs, 2 error""")
    ap.add_argument("command", choices=["up", "status", "down"])
    ap.add_argument("--prefix", default="icnode", help="functions are PREFIX0..PREFIX(N-1)")
    ap.add_argument("--count", type=int, help="number of functions (default 400)")
    ap.add_argument("--memory", type=int, help="MiB per function (Lambda: 128..10240; 1536)")
    ap.add_argument("--timeout", type=int, help="seconds per invocation (default 300)")
    ap.add_argument("--arch", help="x86_64 (default) or arm64")
    ap.add_argument("--runtime", help="default provided.al2023")
    ap.add_argument("--zip", help="deployment package (default function-ARCH.zip beside bin/)")
    ap.add_argument("--region", help="AWS region (default: the CLI's own, else us-east-1)")
    ap.add_argument("--role-arn", help="the functions' execution role")
    ap.add_argument("--create-role", action="store_true", default=None,
                    help="make the role PREFIX-icnode with exactly what a node needs")
    ap.add_argument("--account-id", help="the account, for --create-role's policy (default: "
                    "from the role ARN or sts get-caller-identity)")
    ap.add_argument("--node-secret-file", help="default STATE_DIR/node-secret (made if missing)")
    ap.add_argument("--log-level", help="the nodes' IC_NODE_LOG_LEVEL (default info)")
    ap.add_argument("--max-event-age", type=int, help="seconds an Event may wait (default 60)")
    ap.add_argument("--subnets", help="comma-separated subnet ids (VPC)")
    ap.add_argument("--security-groups", help="comma-separated security group ids (VPC)")
    ap.add_argument("--endpoint-url", help="the Lambda endpoint (the local platform: "
                    "http://127.0.0.1:PORT)")
    ap.add_argument("--iam-endpoint-url", help="the IAM and STS endpoint, if not AWS's")
    ap.add_argument("--profile", help="the AWS CLI profile")
    ap.add_argument("--proxy-config", help="write icproxy's options to FILE")
    ap.add_argument("--state-dir", help="where up keeps its options and the secret "
                    "(default ./icdeploy-PREFIX)")
    ap.add_argument("--parallel", type=int, default=16, help="AWS calls at once (default 16)")
    ap.add_argument("--rate", type=float, default=10.0,
                    help="changing calls per second (default 10; Lambda allows 15)")
    ap.add_argument("--dry-run", action="store_true", help="print every change, make none")
    ap.add_argument("--verbose", action="store_true", help="print every call and every function")
    ap.add_argument("--aws", default=os.environ.get("IC_AWS_CLI", "/usr/bin/aws"),
                    help="the AWS CLI (default /usr/bin/aws)")
    args = ap.parse_args(argv)
    if args.count is not None and args.count < 1:
        ap.error("--count must be at least 1")
    return args


def main(argv=None, runner=None, out=None, err=None, sleep=time.sleep):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    resolve(args)
    if args.region is None:
        args.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
            or "us-east-1"
    runner = runner or CliRunner(args.aws, args.region, args.endpoint_url,
                                 args.iam_endpoint_url, args.profile)
    aws = Aws(runner, dry_run=args.dry_run, out=out or sys.stdout, err=err or sys.stderr,
              write_rate=args.rate, sleep=sleep,
              verbose=args.verbose)
    try:
        with tempfile.TemporaryDirectory(prefix="icdeploy-") as workdir:
            if args.command == "up":
                return command_up(args, aws, workdir)
            if args.command == "status":
                return command_status(args, aws)
            return command_down(args, aws)
    except AwsError as e:
        aws.say("icdeploy: %s" % describe(e), error=True)
        return 2
    except DeployError as e:
        aws.say("icdeploy: %s" % e, error=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())

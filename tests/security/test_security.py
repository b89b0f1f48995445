"""Security properties: no secrets in the repository or the build context, bundles never
unpickled nor read outside their folder, passwords in URLs never shown, admin and size limits.

Every detector here is also run on samples it must catch, so a broken pattern fails loudly
instead of passing an unsafe tree.
"""

import ast
import hashlib
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from housing_assets.lib import bundle
from housing_assets.lib.splits import SPLIT
from housing_assets.resources.serving_store import ServingStore
from housing_assets.settings import Settings, redact_url
from housing_serving.app import create_app
from housing_serving.model_holder import ModelHolder
from housing_serving.settings import ServingSettings
from tests.serving.conftest import API_KEY, make_client, records

REPO = Path(__file__).resolve().parents[2]

# --- a. no secrets in the repository ----------------------------------------------------------

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
}
# scheme://user:<password>@host, reported as "user:<password>@host".
URL_PASSWORD = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s:/@'\"`]+:([^\s/@'\"`]+)@[^\s/:'\"`]+)"
)
# ${VAR}, $VAR, {VAR}, <password>, {{ secret }} and *** are references or redactions.
PLACEHOLDER = re.compile(r"\$?\{\w+\}|\$\w+|<[^>]*>|\{\{.*\}\}|\*+")

# Inline credentials the repository may carry, each checked to still exist (a stale entry fails).
ALLOWED_URL_CREDENTIALS = {
    ("README.md", "user:pw@db"): "placeholder in the table of production variables",
    ("deploy/cloudformation.yaml", "user:password@host"): "comment describing the secret's format",
    ("docker-compose.yml", "housing:housing@postgres"): (
        "the local compose stack's throwaway Postgres, reachable on the compose network only; "
        "production reads its URLs from Secrets Manager"
    ),
}


def find_secrets(text: str) -> list[tuple[str, str]]:
    found = [(kind, m.group(0)) for kind, p in SECRET_PATTERNS.items() for m in p.finditer(text)]
    for m in URL_PASSWORD.finditer(text):
        if not PLACEHOLDER.fullmatch(m.group(2)):
            found.append(("URL with a password", m.group(1)))
    return found


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored: everything a commit could carry."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (REPO / name).is_file()})


@pytest.mark.parametrize(
    "sample",
    [
        "key = " + "AKIA" + "IOSFODNN7EXAMPLE",
        "ASIA" + "ABCDEFGHIJ012345",
        "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '"AWS_SECRET_ACCESS_KEY": "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" + '"',
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "-----BEGIN " + "PRIVATE KEY-----",
        "token: " + "ghp_" + "a1B2" * 9,
        "github_pat_" + "11ABCDEFG0" * 3,
        "HOUSING_OPTUNA_URL=postgresql://u:" + "s3cret@db.internal/optuna",
        "mlflow: https://ml:" + "p4ss@mlflow.internal:5000",
    ],
)
def test_the_secret_detectors_catch_what_they_are_for(sample):
    assert find_secrets(sample), sample


@pytest.mark.parametrize(
    "sample",
    [
        "postgresql://optuna@db/optuna",
        "http://mlflow:5000",
        "sqlite:////data/optuna/studies.db",
        "AWS_SECRET_ACCESS_KEY: minio-secret",
        "postgresql://user:${DB_PASSWORD}@db/optuna",
        "postgresql://u:***@db/optuna",
        "s3://bucket/prefix",
    ],
)
def test_the_secret_detectors_let_non_secrets_through(sample):
    assert not find_secrets(sample), sample


def test_no_secrets_in_the_repository():
    files = repository_files()
    assert "pyproject.toml" in files and "housing_serving/app.py" in files, "git saw no checkout"
    leaks, allowed_seen = [], set()
    for name in files:
        data = (REPO / name).read_bytes()
        if b"\0" in data[:8192]:  # images
            continue
        for kind, match in find_secrets(data.decode("utf-8", errors="replace")):
            if (name, match) in ALLOWED_URL_CREDENTIALS:
                allowed_seen.add((name, match))
            else:
                leaks.append(f"{name}: {kind}: {match}")
    assert not leaks, "secrets in the repository:\n" + "\n".join(leaks)
    stale = set(ALLOWED_URL_CREDENTIALS) - allowed_seen
    assert not stale, f"allow-list entries no longer in the repository, remove them: {stale}"


def _docker_excluded(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a path is out when a pattern matches it or a parent folder."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = "".join(
            "(?:.*/)?"
            if part == "**/"
            else ".*"
            if part == "**"
            else "[^/]*"
            if part == "*"
            else re.escape(part)
            for part in re.split(r"(\*\*/|\*\*|\*)", body)
        )
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_local_state_and_secrets_out_and_what_the_image_copies_in():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for path in (
        ".env",
        ".env.prod",
        "deploy/.env",
        ".venv/bin/python",
        ".housing/serving/current",
        ".housing/mlflow/mlflow.db",
        ".git/config",
        "mlruns/0/meta.yaml",
        "mlartifacts/1/model.json",
        ".hypothesis/examples/x",
        "housing_assets/__pycache__/settings.cpython-311.pyc",
        "tests/conftest.py",
    ):
        assert _docker_excluded(path, patterns), f"{path} would be sent to the Docker build"
    dockerfile = (REPO / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, flags=re.M)
    assert copies, "no COPY lines found in the Dockerfile"
    sources = [src for line in copies for src in line.split()]
    assert "." not in sources, "the Dockerfile copies the whole build context"
    for src in sources:
        assert (REPO / src).exists(), src
        assert not _docker_excluded(src, patterns), (
            f".dockerignore drops {src}, which the image needs"
        )


# --- b. bundles: never unpickled, never read outside their folder -------------------------------


def api_sources() -> list[Path]:
    """Every project module the API process imports (the bundle load path among them), found
    by importing the app in a fresh interpreter rather than by file names."""
    probe = (
        "import sys, housing_serving.app\n"
        "for m in list(sys.modules.values()):\n"
        "    print(getattr(m, '__file__', None) or '')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    ours = {"housing_assets", "housing_serving", "housing_ui"}
    return sorted(
        {
            Path(f)
            for f in out
            if f.endswith(".py")
            and Path(f).is_relative_to(REPO)
            and Path(f).relative_to(REPO).parts[0] in ours
        }
    )


UNSAFE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "joblib",
    "dill",
    "shelve",
    "marshal",
}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def unsafe_deserialization(source: str) -> list[str]:
    """Code (not comments or docstrings) that can run code while loading bytes."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif (
            isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES
        ):
            found.append(f"from {node.module}")
        elif isinstance(node, ast.Attribute | ast.Name):
            name = _dotted(node)
            if name.split(".")[0] in UNSAFE_MODULES or name.endswith("read_pickle"):
                found.append(name)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if (
                name in {"torch.load", "yaml.load", "yaml.unsafe_load"}
                or (name.startswith("mlflow.") and name.endswith(".load_model"))
                or any(
                    k.arg == "allow_pickle" and getattr(k.value, "value", None) is True
                    for k in node.keywords
                )
                or (
                    name in {"__import__", "importlib.import_module"}
                    and node.args
                    and getattr(node.args[0], "value", None) in UNSAFE_MODULES
                )
            ):
                found.append(name)
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "import cloudpickle as cp",
        "from joblib import load",
        "model = torch.load(path)",
        "arr = np.load(f, allow_pickle=True)",
        "frame = pd.read_pickle(path)",
        "m = mlflow.pyfunc.load_model(uri)",
        "cfg = yaml.load(text, Loader=yaml.Loader)",
        "mod = __import__('pickle')",
    ],
)
def test_the_unpickling_detector_catches_each_form(snippet):
    assert unsafe_deserialization(snippet), snippet


def test_the_unpickling_detector_ignores_prose_and_safe_loaders():
    source = '"""Nothing is ever unpickled: no pickle, no joblib."""\n'
    source += "booster.load_model(raw)\narr = np.load(f)\ndoc = json.loads(s)\n"
    assert unsafe_deserialization(source) == []


def test_nothing_on_the_bundle_load_path_can_unpickle():
    sources = api_sources()
    loaded = {p.relative_to(REPO).as_posix() for p in sources}
    # The API reads bundles: the loader, the model and its history are among what it imports.
    assert {"housing_assets/lib/bundle.py", "housing_assets/lib/predictor.py"} <= loaded
    found = {
        str(p.relative_to(REPO)): hits
        for p in sources
        if (hits := unsafe_deserialization(p.read_text()))
    }
    assert not found, found


def _fake_files(tag: str) -> dict[str, bytes]:
    return {name: json.dumps({"file": name, "tag": tag}).encode() for name in bundle.FILES}


def _pickle_trap(marker: Path) -> bytes:
    """Bytes that create `marker` when unpickled: proof of whether anything unpickled them."""

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Trap())


class SpyStore(bundle.LocalStore):
    def __init__(self, root):
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, key: str) -> bytes:
        self.reads.append(key)
        return super().read(key)


def _rewrite_manifest(store: bundle.LocalStore, version: str, extra: dict[str, bytes]) -> None:
    """What an attacker with write access to the store could do: list more files, checksums right."""
    key = f"bundles/{version}/{bundle.MANIFEST}"
    manifest = json.loads(store.read(key))
    manifest["files"].update(
        {name: hashlib.sha256(data).hexdigest() for name, data in extra.items()}
    )
    store.write(key, json.dumps(manifest).encode())


def test_the_pickle_trap_is_live(tmp_path):
    pickle.loads(_pickle_trap(tmp_path / "fired"))
    assert (tmp_path / "fired").exists()


def test_a_pickle_beside_a_bundle_is_never_opened(tmp_path):
    store = SpyStore(tmp_path / "store")
    bundle.publish(store, "v1", _fake_files("a"))
    (tmp_path / "store/bundles/v1/model.pkl").write_bytes(_pickle_trap(tmp_path / "fired"))
    loaded = bundle.load(store)
    assert set(loaded.files) == set(bundle.FILES)
    assert not any(key.endswith(".pkl") for key in store.reads), store.reads
    assert not (tmp_path / "fired").exists()


@pytest.mark.parametrize(
    "name", ["../../../outside.json", "x/../../../../outside.json", "/outside.json", "model.pkl"]
)
def test_a_manifest_naming_files_outside_the_bundle_is_refused_before_reading(tmp_path, name):
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"secret": "must not be read"}')
    store = SpyStore(tmp_path / "store")
    bundle.publish(store, "v1", _fake_files("a"))
    _rewrite_manifest(store, "v1", {name: outside.read_bytes()})
    store.reads.clear()
    with pytest.raises(bundle.BundleError, match="unknown files"):
        bundle.load(store)
    assert store.reads == ["current", "bundles/v1/MANIFEST.json"]


def test_a_manifest_missing_a_required_file_is_refused(tmp_path):
    store = bundle.LocalStore(tmp_path)
    bundle.publish(store, "v1", _fake_files("a"))
    manifest = json.loads(store.read("bundles/v1/MANIFEST.json"))
    del manifest["files"]["model.json"]
    store.write("bundles/v1/MANIFEST.json", json.dumps(manifest).encode())
    with pytest.raises(bundle.BundleError, match=r"lacks \['model\.json'\]"):
        bundle.load(store)


@pytest.mark.parametrize("version", ["../escape", "..", "a/b", ".hidden", "v1\n", ""])
def test_a_version_outside_bundles_is_refused(tmp_path, version):
    store = bundle.LocalStore(tmp_path / "store")
    with pytest.raises(bundle.BundleError, match="invalid bundle version"):
        bundle.publish(store, version or "x y", _fake_files("a"))
    assert bundle.current_version(store) is None


def test_a_current_pointer_leading_out_of_bundles_is_refused_and_the_old_model_kept(tmp_path):
    root = tmp_path / "store"
    store = bundle.LocalStore(root)
    bundle.publish(store, "v1", _fake_files("a"))
    # A complete, checksum-valid bundle outside bundles/, and `current` pointing at it.
    escape = bundle.LocalStore(root / "escape")
    for name, data in _fake_files("evil").items():
        escape.write(name, data)
    manifest = {
        "version": "x",
        "files": {n: bundle.sha256(d) for n, d in _fake_files("evil").items()},
    }
    escape.write(bundle.MANIFEST, json.dumps(manifest).encode())
    store.write(bundle.POINTER, b"../escape")
    with pytest.raises(bundle.BundleError, match=r"invalid bundle version '\.\./escape'"):
        bundle.load(store)
    holder = ModelHolder(store)
    assert holder.refresh() is False and "invalid bundle version" in holder.last_error
    # The sensors read the champion's provenance without loading it: the same refusal.
    with pytest.raises(bundle.BundleError, match="invalid bundle version"):
        ServingStore(root=str(root)).champion_provenance()


def test_the_api_serves_beside_a_pickle_and_refuses_a_manifest_listing_one(store, tmp_path):
    fired = tmp_path / "fired"
    trap = _pickle_trap(fired)
    (store / "bundles/2022-01-v1/model.pkl").write_bytes(trap)
    local = bundle.LocalStore(store)
    files = dict(bundle.load(local).files)
    bundle.publish(local, "2022-01-v2", files)
    (store / "bundles/2022-01-v2/model.pkl").write_bytes(trap)
    _rewrite_manifest(local, "2022-01-v2", {"model.pkl": trap})
    local.write(bundle.POINTER, b"2022-01-v1")
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v1"
        local.write(bundle.POINTER, b"2022-01-v2")
        answer = client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
        assert answer["swapped"] is False and answer["model_version"] == "2022-01-v1"
        assert "unknown files ['model.pkl']" in answer["error"]
    assert not fired.exists()


# --- c. passwords in URLs are never shown -------------------------------------------------------

PASSWORD = "s3cretPW-42"
ML_PASSWORD = "mlP4ss-17"
PROD_ENV_WITH_PASSWORDS = {
    "HOUSING_ENV": "prod",
    "HOUSING_DATA_URI": "s3://housing-prod/data",
    "HOUSING_SERVING_URI": "s3://housing-prod/serving",
    "MLFLOW_TRACKING_URI": f"https://ml:{ML_PASSWORD}@mlflow.internal:5000",
    "HOUSING_OPTUNA_URL": f"postgresql://optuna:{PASSWORD}@db.internal:5432/optuna",
}


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        ("postgresql://u:<pw>@host/db", "s3cret", "postgresql://u:***@host/db"),
        (
            "postgresql+psycopg2://u:<pw>@h:5432/db",
            "p%40ss",
            "postgresql+psycopg2://u:***@h:5432/db",
        ),
        ("https://u:<pw>@mlflow:5000/x", "p@ss/w", "https://u:***@mlflow:5000/x"),
        ("postgresql://:<pw>@host/db", "pw", "postgresql://:***@host/db"),
        ("postgresql://optuna@db/optuna", "", "postgresql://optuna@db/optuna"),
        ("http://mlflow:5000", "", "http://mlflow:5000"),
        ("sqlite:////data/optuna/studies.db", "", "sqlite:////data/optuna/studies.db"),
        ("s3://bucket/prefix", "", "s3://bucket/prefix"),
    ],
)
def test_redact_url(url, password, shown):
    assert redact_url(url.replace("<pw>", password)) == shown


@pytest.fixture
def prod_env(monkeypatch):
    for name, value in PROD_ENV_WITH_PASSWORDS.items():
        monkeypatch.setenv(name, value)


def test_settings_repr_hides_url_passwords(prod_env):
    settings = Settings.from_env()
    assert settings.optuna_url == PROD_ENV_WITH_PASSWORDS["HOUSING_OPTUNA_URL"]
    shown = repr(settings) + str(settings)
    assert PASSWORD not in shown and ML_PASSWORD not in shown
    assert "postgresql://optuna:***@db.internal:5432/optuna" in shown


def test_dagster_shows_no_url_password_yet_runs_get_the_real_urls(prod_env):
    import dagster as dg
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from housing_assets.definitions import build_definitions, resources_for
    from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage

    settings = Settings.from_env()
    # What the code location sends to the webserver: the UI's resource page shows this config.
    snapshot = serialize_value(
        RepositorySnap.from_def(build_definitions(settings).get_repository_def())
    )
    assert "HOUSING_OPTUNA_URL" in snapshot and "MLFLOW_TRACKING_URI" in snapshot
    assert PASSWORD not in snapshot and ML_PASSWORD not in snapshot

    seen = {}

    @dg.asset
    def probe(context, optuna_storage: OptunaStorage, mlflow_tracking: MlflowTracking) -> None:
        seen.update(optuna=optuna_storage.storage_url, mlflow=mlflow_tracking.tracking_uri)
        context.log.info(f"optuna {redact_url(optuna_storage.storage_url)}")

    resources = resources_for(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [probe],
            resources={k: resources[k] for k in ("optuna_storage", "mlflow_tracking")},
            instance=instance,
        )
        assert result.success
        events = "\n".join(serialize_value(e) for e in instance.all_logs(result.run_id))
    assert seen == {
        "optuna": PROD_ENV_WITH_PASSWORDS["HOUSING_OPTUNA_URL"],
        "mlflow": PROD_ENV_WITH_PASSWORDS["MLFLOW_TRACKING_URI"],
    }
    assert "optuna:***@db.internal" in events
    assert PASSWORD not in events and ML_PASSWORD not in events


# --- d. admin routes ----------------------------------------------------------------------------


def test_an_empty_configured_key_disables_admin_instead_of_matching_an_empty_header(tmp_path):
    settings = ServingSettings(store=str(tmp_path / "empty"), poll_seconds=0, api_key="")
    with TestClient(create_app(settings)) as client:
        for headers in ({"X-API-Key": ""}, {}):
            response = client.post("/v1/admin/reload", headers=headers)
            assert response.status_code == 403, headers
            assert "disabled" in response.json()["detail"][0]["message"]


def test_the_admin_key_is_compared_in_constant_time():
    serving = [p for p in api_sources() if "housing_serving" in p.parts]
    tree = ast.Module(
        body=[n for p in serving for n in ast.parse(p.read_text()).body], type_ignores=[]
    )
    calls = {_dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls & {"secrets.compare_digest", "hmac.compare_digest"}
    key_names = {"api_key", "x_api_key", "get_secret_value"}
    plain = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)
        and key_names & {_dotted(x).rsplit(".", 1)[-1] for x in ast.walk(n)}
    ]
    assert not plain, f"the API key is compared with ==: {plain}"


# --- e. limits ----------------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 512):
    """An iterator body: httpx sends it chunked, without a Content-Length to check up front."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _multipart(csv: bytes) -> tuple[bytes, dict]:
    body = (
        b'--XB\r\nContent-Disposition: form-data; name="file"; filename="rows.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + csv + b"\r\n--XB--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=XB"}


def test_a_chunked_upload_over_the_body_limit_is_413_not_a_parse_error(tmp_path):
    settings = ServingSettings(store=str(tmp_path / "empty"), poll_seconds=0, max_body_bytes=2048)
    body, headers = _multipart(b"date,zipcode\n" + b"2023-01-31,75013\n" * 400)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/predict/csv", content=_chunks(body), headers=headers)
    assert response.status_code == 413
    assert "over 2,048 bytes" in response.json()["detail"][0]["message"]


def test_a_chunked_json_body_over_the_limit_is_413(store, holdout):
    body = json.dumps({"rows": records(holdout.head(20))}).encode()
    with make_client(store, max_body_bytes=2048) as client:
        response = client.post(
            "/v1/predict", content=_chunks(body), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "over 2,048 bytes" in response.json()["detail"][0]["message"]


def test_the_row_limit_applies_to_csv_uploads_too(store, holdout):
    csv = holdout.drop(columns=[SPLIT]).head(4).to_csv(index=False).encode()
    with make_client(store, max_rows=3) as client:
        response = client.post("/v1/predict/csv", files={"file": ("rows.csv", csv, "text/csv")})
    assert response.status_code == 413
    assert "limit is 3" in response.json()["detail"][0]["message"]

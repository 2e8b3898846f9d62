"""SaaS and cloud-service token families beyond the core ones in `tokens.py`: each a vendor's
documented prefix and shape (the gitleaks / TruffleHog / Trivy rule sets of research/inspect.md §2,
and the Meli et al. / Dahlmanns et al. signature groups of §3.3).

A prefix this specific is its own evidence, so these run everywhere (source, binaries' strings,
metadata) with only the placeholder check on the random part; families without a fixed prefix are
anchored to a vendor keyword instead (Heroku's UUID keys, Mailgun's `key-`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import unquote

from . import filters
from .tokens import TokenRule, fixed, random_after, rule, upto

_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"
_BU = r"(?<![A-Za-z0-9_-])"      # for shapes whose alphabet has '-'
_EU = r"(?![A-Za-z0-9_-])"


def _mixed(token: str) -> str | None:
    """A shape without a checksum: random output mixes character classes and is not a placeholder."""
    classes = sum(bool(re.search(p, token)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return None if classes < 2 or filters.token_placeholder(token) else "high"


def _both_cases(token: str) -> str | None:
    body = token[3:]
    return None if body.lower() == body or body.upper() == body else random_after(0)(body)


def _sas(sig: str) -> str | None:
    try:
        return "high" if len(base64.b64decode(unquote(sig), validate=True)) == 32 else None
    except (binascii.Error, ValueError):
        return None


def _after(sep: str):
    def check(token: str) -> str | None:
        return None if filters.token_placeholder(token.split(sep, 1)[-1]) else "high"
    return check


def _classes3(token: str) -> str | None:
    """Base62 keys after a hex-looking prefix (`4b1d...`): a digest has no upper case, a key has all three."""
    if not (re.search("[a-z]", token) and re.search("[A-Z]", token) and re.search("[0-9]", token)):
        return None
    return None if filters.token_placeholder(token) else "high"


def _discord_bot(token: str) -> str | None:
    """The first part of a Discord bot token is base64 of the bot's numeric user id (a snowflake)."""
    head = token.split(".", 1)[0]
    try:
        user_id = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return "high" if user_id.isdigit() and 17 <= len(user_id) <= 20 else None


def _grafana_legacy(token: str) -> str | None:
    """A Grafana API key (pre-service-account) is base64 of `{"k":"<random>","n":...,"id":...}`."""
    try:
        body = json.loads(base64.b64decode(token + "=" * (-len(token) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    key = body.get("k") if isinstance(body, dict) else None
    return "high" if isinstance(key, str) and len(key) >= 16 and not filters.token_placeholder(key) else None


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _p(rule_id: str, category: str, regex: str, keywords: tuple[str, ...], prefix_len: int, severity: str = "critical") -> TokenRule:
    """A family with a fixed prefix of `prefix_len` characters and a random rest."""
    return rule(rule_id, category, severity, regex, keywords, fixed(prefix_len), random_after(prefix_len))


SERVICE_RULES: tuple[TokenRule, ...] = (
    _p("gitlab-token", "gitlab", _B + r"(GR1348941[A-Za-z0-9_-]{20})" + _EU, ("gr1348941",), 9),
    _p("slack-token", "slack", _B + r"(xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-f0-9]{32,})" + _E, ("xapp-",), 5, "high"),
    _p("stripe-secret-key", "stripe", _B + r"(whsec_[A-Za-z0-9]{32,})" + _E, ("whsec_",), 6),
    rule("twilio-api-key", "twilio", "critical", r"(SK(?<![A-Za-z0-9_]SK)[0-9a-f]{32})" + _E, ("sk",), fixed(2), _mixed),
    _p("sendgrid-api-key", "sendgrid", r"(SG\.(?<![A-Za-z0-9_]SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})" + _EU, ("sg.",), 3),
    rule("mailgun-api-key", "mailgun", "critical", _B + r"(key-[0-9a-f]{32})" + _E, ("mailgun",), fixed(4), random_after(4)),
    rule("mailchimp-api-key", "mailchimp", "critical", _B + r"([0-9a-f]{32}-us[0-9]{1,2})" + _E, ("-us",), fixed(0),
         lambda t: _mixed(t[:32])),
    _p("vault-token", "vault", _B + r"(hv[sbr]\.[A-Za-z0-9_-]{24,})" + _EU, ("hvs.", "hvb.", "hvr."), 4),
    _p("heroku-api-key", "heroku", _B + r"(HRKU-[A-Za-z0-9_-]{58,})" + _EU, ("hrku-",), 5),
    rule("heroku-api-key", "heroku", "critical",
         r"(?i:heroku[\w.-]{0,20}(?:key|token|secret|password)[\w.-]{0,10})[\"']?\s*(?::=|=>|=|:)\s*[\"']?"
         r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", ("heroku",), fixed(0), lambda t: "high"),
    _p("digitalocean-token", "digitalocean", _B + r"(do[opr]_v1_[a-f0-9]{64})" + _E, ("dop_v1_", "doo_v1_", "dor_v1_"), 7),
    _p("shopify-token", "shopify", _B + r"(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})" + _E, ("shpat_", "shpca_", "shppa_", "shpss_"), 6),
    rule("openai-api-key", "openai", "critical",
         _BU + r"(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})" + _EU, ("t3blbkfj",),
         upto("-"), _after("-")),
    rule("openai-api-key", "openai", "critical", _BU + r"(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})" + _EU,
         ("sk-proj-", "sk-svcacct-", "sk-admin-"), fixed(8), _after("-")),
    _p("anthropic-api-key", "anthropic", _BU + r"(sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{80,})" + _EU, ("sk-ant-",), 7),
    rule("huggingface-token", "huggingface", "critical", _B + r"(hf_[A-Za-z]{34})" + _E, ("hf_",), fixed(3),
         _both_cases),
    rule("google-api-key", "google", "high", _BU + r"(AIza[0-9A-Za-z_-]{35})" + _EU, ("aiza",), fixed(4), random_after(4)),
    _p("google-oauth-client-secret", "google", _BU + r"(GOCSPX-[A-Za-z0-9_-]{28})" + _EU, ("gocspx-",), 7),
    _p("google-oauth-refresh-token", "google", r"(?<![A-Za-z0-9_/-])(1//0[0-9A-Za-z_-]{40,})" + _EU, ("1//0",), 4),
    _p("google-oauth-access-token", "google", _B + r"(ya29\.[0-9A-Za-z_-]{30,})" + _EU, ("ya29.",), 5, "high"),
    rule("telegram-bot-token", "telegram", "high", r"(?<![0-9])([0-9]{8,10}:AA[0-9A-Za-z_-]{33})" + _EU, (":aa",),
         upto(":"), _after(":")),
    rule("discord-webhook", "discord", "high",
         r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})" + _EU,
         ("discord",), lambda s: "https://discord.com/api/webhooks/", _after("webhooks/")),
    _p("databricks-token", "databricks", _B + r"(dapi[a-f0-9]{32}(?:-[0-9]+)?)" + _E, ("dapi",), 4),
    _p("atlassian-api-token", "atlassian", _B + r"(ATATT3[A-Za-z0-9_=-]{150,})" + _EU, ("atatt3",), 6),
    _p("postman-api-key", "postman", _B + r"(PMAK-[a-f0-9]{24}-[a-f0-9]{34})" + _E, ("pmak-",), 5),
    _p("newrelic-api-key", "newrelic", _B + r"(NR(?:AK|JS|II)-[A-Z0-9]{27})" + _E, ("nrak-", "nrjs-", "nrii-"), 5),
    _p("sentry-token", "sentry", _B + r"(sntry[us]_[A-Za-z0-9_=+/-]{40,})" + _EU, ("sntryu_", "sntrys_"), 7),
    _p("grafana-token", "grafana", _B + r"(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})" + _E, ("glsa_",), 5),
    _p("grafana-token", "grafana", _B + r"(glc_[A-Za-z0-9+/]{32,}={0,2})" + r"(?![A-Za-z0-9+/=])", ("glc_",), 4),
    _p("linear-api-key", "linear", _B + r"(lin_(?:api|oauth)_[A-Za-z0-9]{40})" + _E, ("lin_api_", "lin_oauth_"), 8),
    _p("age-secret-key", "age", r"(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})", ("age-secret-key-1",), 16),
    _p("doppler-token", "doppler", _B + r"(dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44})" + _E, ("dp.",), 6),
    _p("pulumi-token", "pulumi", _B + r"(pul-[a-f0-9]{40})" + _E, ("pul-",), 4),
    _p("square-token", "square", _B + r"(sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43})" + _EU, ("sq0atp-", "sq0csp-"), 7),
    rule("braintree-access-token", "braintree", "critical",
         r"(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})", ("access_token$production$",), fixed(24),
         lambda t: None if filters.token_placeholder(t[24:]) else "high"),
    rule("alibaba-access-key-id", "alibaba", "critical", _B + r"(LTAI[A-Za-z0-9]{12,20})" + _E, ("ltai",), fixed(4),
         lambda t: _mixed(t[4:])),
    rule("terraform-cloud-token", "terraform", "critical", _B + r"([a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{60,70})" + _EU,
         ("atlasv1",), upto("atlasv1."), _after("atlasv1.")),
    rule("azure-ad-client-secret", "azure", "critical",
         r"(?<![A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])", ("q~",),
         fixed(0), lambda t: _mixed(t[6:])),
    rule("azure-sas-token", "azure", "critical", r"[?&]sig=([A-Za-z0-9%+/]{40,}(?:%3D|=){0,2})", ("sig=",), fixed(0), _sas),
    rule("azure-devops-pat", "azure", "critical", _B + r"([A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})" + _E, ("azdo",), fixed(0), _mixed),
    _p("facebook-access-token", "facebook", _B + r"(EAACEdEose0cBA[0-9A-Za-z]{20,})" + _E, ("eaacedeose0cba",), 14),
    _p("amazon-mws-token", "aws", r"(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", ("amzn.mws.",), 9),
    _p("planetscale-token", "planetscale", _B + r"(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64})" + _EU, ("pscale_",), 11),
    _p("supabase-token", "supabase", _B + r"(sbp_[a-f0-9]{40})" + _E, ("sbp_",), 4),
    _p("netlify-token", "netlify", _B + r"(nfp_[A-Za-z0-9]{36})" + _E, ("nfp_",), 4),
    _p("figma-token", "figma", _B + r"(figd_[A-Za-z0-9_-]{40})" + _EU, ("figd_",), 5),
    _p("airtable-token", "airtable", r"(pat(?<![A-Za-z0-9_]pat)[A-Za-z0-9]{14}\.[a-f0-9]{64})" + _E, ("pat",), 3),
    _p("notion-token", "notion", _B + r"(ntn_[0-9]{11}[A-Za-z0-9]{35})" + _E, ("ntn_",), 4),
    _p("buildkite-token", "buildkite", _B + r"(bkua_[a-f0-9]{40})" + _E, ("bkua_",), 5),
    _p("circleci-token", "circleci", _B + r"(CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40})" + _E, ("ccipat_",), 7),
    _p("rubygems-token", "rubygems", _B + r"(rubygems_[a-f0-9]{48})" + _E, ("rubygems_",), 9),
    _p("nuget-api-key", "nuget", _B + r"(oy2[a-z0-9]{43})" + _E, ("oy2",), 3),
    _p("clojars-token", "clojars", _B + r"(CLOJARS_[a-z0-9]{60})" + _E, ("clojars_",), 8),
    _p("artifactory-token", "artifactory", _B + r"(AKCp[A-Za-z0-9]{69})" + _E, ("akcp",), 4),
    _p("mapbox-token", "mapbox", _B + r"(sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,})" + _EU, ("sk.eyj",), 3),
    _p("dynatrace-token", "dynatrace", _B + r"(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})" + _E, ("dt0c01.",), 7),
    # gitleaks' and TruffleHog's fixed-prefix families the rules above did not cover (outside evaluation, 2026-12-03)
    _p("1password-token", "1password", _B + r"(ops_eyJ[A-Za-z0-9+/]{250,}={0,3})" + r"(?![A-Za-z0-9+/=])", ("ops_eyj",), 4),
    rule("1password-secret-key", "1password", "critical",
         _B + r"(A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})" + _EU,
         ("a3-",), fixed(3), lambda t: random_after(2)(t.replace("-", ""))),
    rule("adobe-client-secret", "adobe", "critical", _B + r"(p8e-[A-Za-z0-9]{32})" + _E, ("p8e-",), fixed(4), lambda t: _mixed(t[4:])),
    rule("clickhouse-api-secret", "clickhouse", "critical", _B + r"(4b1d[A-Za-z0-9]{38})" + _E, ("4b1d",), fixed(4),
         lambda t: _classes3(t[4:])),
    rule("discord-bot-token", "discord", "high", _BU + r"([MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})" + _EU,
         ("m", "n", "o"), fixed(0), _discord_bot),
    _p("duffel-token", "duffel", _B + r"(duffel_(?:test|live)_[A-Za-z0-9_=-]{43})" + _EU, ("duffel_",), 12),
    _p("easypost-api-key", "easypost", _B + r"(EZ[AT]K[A-Za-z0-9]{54})" + _E, ("ezak", "eztk"), 4),
    _p("flutterwave-secret-key", "flutterwave", _B + r"(FLWSECK(?:_TEST)?-[a-h0-9]{32}-X)" + _E, ("flwseck",), 8),
    _p("flyio-token", "flyio", _B + r"(fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})" + r"(?![A-Za-z0-9_+/=-])",
       ("fo1_", "fm1", "fm2"), 4),
    _p("frameio-token", "frameio", _B + r"(fio-u-[A-Za-z0-9_=-]{64})" + _EU, ("fio-u-",), 6),
    rule("grafana-token", "grafana", "critical", _B + r"(eyJrIjoi[A-Za-z0-9+/]{60,400}={0,3})" + r"(?![A-Za-z0-9+/=])",
         ("eyjrijoi",), fixed(8), _grafana_legacy),
    rule("huggingface-token", "huggingface", "critical", _B + r"(api_org_[A-Za-z]{34})" + _E, ("api_org_",), fixed(8),
         lambda t: _both_cases(t[5:])),
    _p("harness-token", "harness", _B + r"((?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})" + _E, ("pat.", "sat."), 4),
    rule("infracost-token", "infracost", "high", _B + r"(ico-[A-Za-z0-9]{32})" + _E, ("ico-",), fixed(4), lambda t: _mixed(t[4:])),
    rule("maxmind-license-key", "maxmind", "high", _B + r"([A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)" + _E, ("_mmk",), fixed(0),
         lambda t: _mixed(t[:-4].replace("_", ""))),
    _p("openshift-token", "openshift", _B + r"(sha256~[A-Za-z0-9_-]{43})" + _EU, ("sha256~",), 7),
    _p("perplexity-api-key", "perplexity", _B + r"(pplx-[A-Za-z0-9]{48})" + _E, ("pplx-",), 5),
    _p("prefect-token", "prefect", _B + r"(pnu_[A-Za-z0-9]{36})" + _E, ("pnu_",), 4),
    _p("readme-api-key", "readme", _B + r"(rdme_[a-z0-9]{70})" + _E, ("rdme_",), 5),
    _p("scalingo-token", "scalingo", _B + r"(tk-us-[A-Za-z0-9_-]{48})" + _EU, ("tk-us-",), 6),
    _p("brevo-api-key", "brevo", _B + r"(x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16})" + _E, ("xkeysib-", "xsmtpsib-"), 8),
    _p("settlemint-token", "settlemint", _B + r"(sm_(?:pat|aat|sat)_[A-Za-z0-9]{16})" + _E, ("sm_pat_", "sm_aat_", "sm_sat_"), 7),
    _p("shippo-token", "shippo", _B + r"(shippo_(?:live|test)_[a-fA-F0-9]{40})" + _E, ("shippo_",), 12),
    rule("square-token", "square", "critical", _BU + r"(EAAA[A-Za-z0-9_-]{60})" + _EU, ("eaaa",), fixed(4), lambda t: _classes3(t[4:])),
    _p("typeform-token", "typeform", _B + r"(tfp_[A-Za-z0-9_.=-]{59})" + r"(?![A-Za-z0-9_.=-])", ("tfp_",), 4),
    rule("teams-webhook", "microsoft", "high",
         r"(https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/" + _UUID + "@" + _UUID + r"/IncomingWebhook/[a-f0-9]{32}/" + _UUID + ")",
         ("webhook.office.com",), lambda s: s[: s.index("/webhookb2/") + 11], lambda t: _mixed(t.rsplit("/", 2)[-2])),
)

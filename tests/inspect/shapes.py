"""Seeded generators for the wide corpus's token shapes: one function per vendor format, each the
documented length, alphabet, fixed prefix and (where the vendor has one) checksum. Nothing here is
a real credential; everything is generated at test time so no token-shaped literal lives in the tree.
"""

from __future__ import annotations

import base64
import json
import string
import uuid
from urllib.parse import quote

from .values import ALNUM, Gen

HEX = "0123456789abcdef"
URLSAFE = ALNUM + "_-"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


class Shapes:
    """Vendor token formats over one seeded `Gen`."""

    def __init__(self, g: Gen):
        self.g = g

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        return self.g.s(n, alphabet)

    def github(self, prefix: str = "ghp_") -> str: return self.g.crc_token(prefix)
    def github_fine(self) -> str: return self.g.github_fine()
    def gitlab(self, prefix: str = "glpat-") -> str: return prefix + self.s(20, URLSAFE)
    def gitlab_runner_registration(self) -> str: return "GR1348941" + self.s(20, URLSAFE)
    def slack_user(self) -> str: return f"xoxp-{self.s(11, string.digits)}-{self.s(12, string.digits)}-{self.s(13, string.digits)}-{self.s(32, HEX)}"
    def slack_bot(self) -> str: return self.g.slack()
    def slack_app(self) -> str: return f"xapp-1-A{self.s(10, string.ascii_uppercase + string.digits)}-{self.s(13, string.digits)}-{self.s(64, HEX)}"
    def slack_config_refresh(self) -> str: return f"xoxe.xoxp-1-{self.s(140, ALNUM + '-')}"
    def slack_webhook(self) -> str: return self.g.slack_webhook()
    def stripe(self, prefix: str = "sk_live_") -> str: return prefix + self.s(99)
    def stripe_webhook(self) -> str: return "whsec_" + self.s(32)
    def twilio_key(self) -> str: return "SK" + self.s(32, HEX)
    def hex(self, n: int) -> str: return self.s(n, HEX)
    def sendgrid(self) -> str: return f"SG.{self.s(22, URLSAFE)}.{self.s(43, URLSAFE)}"
    def mailgun(self) -> str: return "key-" + self.s(32, HEX)
    def mailchimp(self) -> str: return self.s(32, HEX) + "-us" + self.s(2, string.digits)
    def npm(self) -> str: return self.g.npm()
    def pypi(self) -> str: return self.g.pypi()
    def dockerhub(self) -> str: return self.g.dockerhub()
    def vault(self) -> str: return "hvs." + self.s(90, URLSAFE)
    def vault_batch(self) -> str: return "hvb." + self.s(138, URLSAFE)
    def vault_legacy(self) -> str: return "s." + self.s(24)
    def heroku(self) -> str: return "HRKU-AA" + self.s(58, URLSAFE)
    def uuid(self) -> str: return str(uuid.UUID(int=self.g.r.getrandbits(128), version=4))
    def digitalocean(self, prefix: str = "dop_v1_") -> str: return prefix + self.s(64, HEX)
    def shopify(self, prefix: str = "shpat_") -> str: return prefix + self.s(32, HEX)
    def openai_legacy(self) -> str: return "sk-" + self.s(20) + "T3BlbkFJ" + self.s(20)
    def openai_project(self) -> str: return "sk-proj-" + self.s(74, URLSAFE) + "T3BlbkFJ" + self.s(74, URLSAFE)
    def anthropic(self) -> str: return "sk-ant-api03-" + self.s(93, URLSAFE) + "AA"
    def huggingface(self) -> str: return "hf_" + self.s(34, string.ascii_letters)
    def google_api(self) -> str: return "AIza" + self.s(35, URLSAFE)
    def google_oauth_secret(self) -> str: return "GOCSPX-" + self.s(28, URLSAFE)
    def google_access_token(self) -> str: return "ya29." + self.s(150, URLSAFE)
    def telegram(self) -> str: return f"{self.s(10, string.digits)}:AA{self.s(33, URLSAFE)}"
    def discord_webhook(self) -> str: return f"https://discord.com/api/webhooks/{self.s(19, string.digits)}/{self.s(68, URLSAFE)}"
    def databricks(self) -> str: return "dapi" + self.s(32, HEX)
    def atlassian(self) -> str: return "ATATT3xFfGF0" + self.s(180, URLSAFE) + "=" + self.s(8, HEX.upper())
    def postman(self) -> str: return f"PMAK-{self.s(24, HEX)}-{self.s(34, HEX)}"
    def newrelic(self) -> str: return "NRAK-" + self.s(27, string.ascii_uppercase + string.digits)
    def sentry(self) -> str: return "sntryu_" + self.s(64, HEX)
    def grafana(self) -> str: return f"glsa_{self.s(32)}_{self.s(8, HEX)}"
    def linear(self) -> str: return "lin_api_" + self.s(40)
    def age(self) -> str: return "AGE-SECRET-KEY-1" + self.s(58, BECH32)
    def doppler(self) -> str: return "dp.pt." + self.s(43)
    def pulumi(self) -> str: return "pul-" + self.s(40, HEX)
    def square(self) -> str: return "sq0atp-" + self.s(22, URLSAFE)
    def square_secret(self) -> str: return "sq0csp-" + self.s(43, URLSAFE)
    def braintree(self) -> str: return f"access_token$production${self.s(16, string.ascii_lowercase + string.digits)}${self.s(32, HEX)}"
    def alibaba(self) -> str: return "LTAI" + self.s(20)
    def terraform(self) -> str: return f"{self.s(14, string.ascii_lowercase + string.digits)}.atlasv1.{self.s(67, URLSAFE)}"
    def azure_ad_secret(self) -> str: return self.s(3) + self.s(1, string.digits) + "Q~" + self.s(34, ALNUM + "_~.-")
    def aws_id(self, prefix: str = "AKIA") -> str: return prefix + self.s(16, string.ascii_uppercase + "234567")
    def aws_secret(self) -> str: return self.g.aws_secret()
    def aws_session(self) -> str: return "IQoJb3JpZ2luX2Vj" + self.s(300, ALNUM + "/+") + "=="
    def password(self, n: int = 16) -> str: return self.g.password(n)
    def alnum(self, n: int) -> str: return self.s(n)

    def azure_sas_url(self) -> str:
        sig = quote(base64.b64encode(self.g.r.randbytes(32)).decode(), safe="")
        return (f"https://corpusdata.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac"
                f"&se=2027-01-01T00:00:00Z&st=2026-01-01T00:00:00Z&spr=https&sig={sig}")

    def jwt(self, alg: str = "RS256", signature: int = 342) -> str:
        def enc(obj) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
        body = {"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ci:" + self.s(8).lower(), "exp": 1900000000}
        return enc({"alg": alg, "kid": self.s(20)}) + "." + enc(body) + "." + self.s(signature, URLSAFE)

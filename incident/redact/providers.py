"""Credentials that announce themselves: tokens whose vendor prefix (`ghp_`, `glpat-`,
`xoxb-`, `sk_live_`, `hvs.`, ...) or fixed layout tells what they are, so one regex finds
them with almost no false positives.

Every pattern starts with a literal (or a small fixed set of literals) and has only bounded
quantifiers, so a scan is linear in the input whatever it holds; `needs` lists the lowercase
literals of which one must occur for the pattern to be worth running. The families follow
the usual secret-scanner checklists (source forges, chat, payments, clouds, registries,
SaaS APIs); a token the table misses is still caught by the key/value, header and URL rules
when it sits where a credential goes.
"""

from __future__ import annotations

from typing import NamedTuple


class Provider(NamedTuple):
    name: str
    pattern: str
    needs: tuple[str, ...]
    # "whole": every match is a credential; "random": only if it mixes letters and digits
    # (the prefix alone is sometimes an ordinary word, as in `sk-` or `hf_`).
    check: str = "whole"


_A = r"(?<![A-Za-z0-9_])"  # left boundary that also holds before '-', '.', '+'
_Z = r"(?![A-Za-z0-9_])"
_ZD = r"(?![A-Za-z0-9_-])"  # right boundary for token alphabets that include '-'

PROVIDERS: tuple[Provider, ...] = (
    # --- source forges and CI --------------------------------------------------------------
    Provider("github-token", _A + r"gh[pousr]_[A-Za-z0-9]{30,255}" + _Z,
             ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    Provider("github-fine-grained", _A + r"github_pat_[A-Za-z0-9_]{22,255}" + _Z,
             ("github_pat_",)),
    Provider(
        "gitlab-token",
        _A + r"(?:glpat|gldt|glptt|glrt|glrtr|glsoat|glcbt|gloas|glimt|glft|glagent|glffct|glwt)"
        r"-[A-Za-z0-9_-]{20,255}" + _ZD,
        ("glpat-", "gldt-", "glptt-", "glrt-", "glrtr-", "glsoat-", "glcbt-", "gloas-",
         "glimt-", "glft-", "glagent-", "glffct-", "glwt-"),
    ),
    Provider("gitlab-runner-token", _A + r"GR1348941[A-Za-z0-9_-]{20,255}" + _ZD,
             ("gr1348941",)),
    Provider("atlassian-token", _A + r"AT(?:ATT|CTT|OA)[A-Za-z0-9_=-]{50,512}" + _ZD,
             ("atatt", "atctt", "atoa")),
    Provider("bitbucket-app-password", _A + r"ATBB[A-Za-z0-9]{24,64}" + _Z, ("atbb",)),
    Provider("circleci-token", _A + r"CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}" + _Z, ("ccipat_",)),
    # --- chat and collaboration ------------------------------------------------------------
    Provider("slack-token", _A + r"xox[abprseo]-[A-Za-z0-9-]{10,255}", ("xox",)),
    Provider("slack-app-token", _A + r"xapp-\d-[A-Za-z0-9]{1,32}-\d{1,32}-[A-Za-z0-9]{16,128}",
             ("xapp-",)),
    Provider(
        "chat-webhook",
        r"https://(?:discord(?:app)?\.com/api/webhooks|[\w.-]{1,64}\.webhook\.office\.com/"
        r"webhookb2|hooks\.zapier\.com/hooks/catch)/[A-Za-z0-9@/_.-]{8,512}",
        ("/api/webhooks", "webhook.office.com", "hooks.zapier.com"),
    ),
    Provider("telegram-bot-token", _A + r"\d{8,10}:AA[A-Za-z0-9_-]{33}" + _ZD, (":aa",)),
    Provider(
        "discord-bot-token",
        _A + r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}" + _ZD,
        (".",),
        "random",
    ),
    Provider("linear-key", _A + r"lin_(?:api|oauth)_[A-Za-z0-9]{40}" + _Z, ("lin_",)),
    Provider("postman-key", _A + r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}" + _Z, ("pmak-",)),
    # --- payments --------------------------------------------------------------------------
    Provider("stripe-key", _A + r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,255}" + _Z,
             ("_live_", "_test_")),
    Provider("stripe-webhook-secret", _A + r"whsec_[A-Za-z0-9+/=]{20,128}", ("whsec_",)),
    Provider(
        "square-token",
        _A + r"(?:sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_-]{60})" + _ZD,
        ("sq0atp-", "sq0csp-", "eaaa"),
    ),
    Provider("shopify-token", _A + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _Z, ("shp",)),
    # --- AI and developer APIs -------------------------------------------------------------
    Provider("anthropic-key", _A + r"sk-ant-[A-Za-z0-9_-]{20,255}", ("sk-ant-",)),
    Provider("openai-key", _A + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,255}",
             ("sk-",), "random"),
    Provider("huggingface-token", _A + r"hf_[A-Za-z0-9]{30,40}" + _Z, ("hf_",), "random"),
    Provider("google-api-key", _A + r"AIza[A-Za-z0-9_-]{35}" + _ZD, ("aiza",)),
    Provider("google-oauth-secret", _A + r"GOCSPX-[A-Za-z0-9_-]{20,64}", ("gocspx-",)),
    Provider("google-oauth-token", _A + r"ya29\.[A-Za-z0-9_-]{20,2048}", ("ya29.",)),
    Provider("sendgrid-key", _A + r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}" + _ZD,
             ("sg.",)),
    Provider("twilio-sid", _A + r"(?:AC|SK)[a-fA-F0-9]{32}" + _Z, ("ac", "sk")),
    Provider("mailgun-key", _A + r"key-[a-f0-9]{32}" + _Z, ("key-",)),
    Provider("mailchimp-key", _A + r"[a-f0-9]{32}-us\d{1,2}" + _Z, ("-us",)),
    Provider("newrelic-key", _A + r"NR(?:AK|II|JS|RA)-[A-Za-z0-9]{19,40}" + _Z,
             ("nrak-", "nrii-", "nrjs-", "nrra-")),
    Provider("sentry-token", _A + r"sntry[su]_[A-Za-z0-9+/=_]{40,512}", ("sntrys_", "sntryu_")),
    Provider("databricks-token", _A + r"dapi[a-f0-9]{32}(?:-\d{1,2})?" + _Z, ("dapi",)),
    Provider("pulumi-token", _A + r"pul-[a-f0-9]{40}" + _Z, ("pul-",)),
    Provider("grafana-token",
             _A + r"(?:glc_[A-Za-z0-9+/]{32,512}={0,2}|glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8})",
             ("glc_", "glsa_")),
    # --- clouds, infrastructure and secret stores ------------------------------------------
    Provider("vault-token", _A + r"hv[sbr]\.[A-Za-z0-9_-]{24,255}", ("hvs.", "hvb.", "hvr.")),
    Provider("terraform-token", _A + r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,128}",
             ("atlasv1",)),
    Provider("doppler-token",
             _A + r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}" + _Z, ("dp.",)),
    Provider("heroku-key", _A + r"HRKU-[A-Za-z0-9_-]{40,80}" + _ZD, ("hrku-",)),
    Provider("digitalocean-token", _A + r"do[opr]_v1_[a-f0-9]{64}" + _Z, ("_v1_",)),
    Provider("supabase-token", _A + r"sb(?:p|_secret)_[A-Za-z0-9_-]{32,64}" + _ZD,
             ("sbp_", "sb_secret_")),
    Provider("planetscale-token", _A + r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}",
             ("pscale_",)),
    Provider("alibaba-key-id", _A + r"LTAI[A-Za-z0-9]{12,20}" + _Z, ("ltai",)),
    Provider(
        "azure-ad-client-secret",
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
        ("q~",),
    ),
    Provider("age-secret-key", _A + r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
             ("age-secret-key-",)),
    Provider("onepassword-token", _A + r"ops_eyJ[A-Za-z0-9_-]{20,4096}", ("ops_",)),
    # --- package registries ----------------------------------------------------------------
    Provider("npm-token", _A + r"npm_[A-Za-z0-9]{36}" + _Z, ("npm_",)),
    Provider("pypi-token", _A + r"pypi-[A-Za-z0-9_-]{50,512}", ("pypi-",)),
    Provider("docker-hub-token", _A + r"dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,64}", ("dckr_",)),
    Provider("rubygems-token", _A + r"rubygems_[a-f0-9]{48}" + _Z, ("rubygems_",)),
    Provider("nuget-key", _A + r"oy2[a-z0-9]{43}" + _Z, ("oy2",)),
    # --- social and ads --------------------------------------------------------------------
    Provider("twitter-bearer", _A + r"A{22}[A-Za-z0-9%]{30,255}", ("a" * 22,)),
    Provider("meta-access-token", _A + r"EAA[A-Za-z0-9]{60,512}" + _Z, ("eaa",), "random"),
)  # fmt: skip

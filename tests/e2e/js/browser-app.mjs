// A browser app using the AWS SDK for JavaScript v3, bundled by esbuild for
// tests/e2e/test_browser.py: the page calls window.skyholdApp.run(...).
import {
  GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

async function describe(call) {
  try {
    return { ok: await call() };
  } catch (err) {
    return { error: { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode } };
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

window.skyholdApp = { run };

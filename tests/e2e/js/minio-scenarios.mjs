// minio-js, unmodified, against `skyhold up` (tests/e2e/test_clients_minio.py): one run of
// the SDK's calls, printing what it made of Skyhold's answers as JSON.
import * as Minio from 'minio'
import { Readable } from 'node:stream'
import fs from 'node:fs'

const args = JSON.parse(process.argv[2])
const { bucket } = args
const options = { endPoint: args.host, port: args.port, useSSL: false, accessKey: args.accessKey,
  secretKey: args.secretKey, sessionToken: args.sessionToken }
const mc = new Minio.Client({ ...options, region: 'us-east-1', partSize: 5 * 1024 * 1024 })
const anywhere = new Minio.Client(options) // no region: the SDK asks GetBucketLocation
const out = {}

const text = async (stream) => { let s = ''; for await (const part of stream) s += part; return s }
const names = async (iter) => { const all = []; for await (const o of iter) all.push(o.name ?? o.prefix); return all }
const failure = async (call) => {
  try { await call() } catch (e) { return { code: e.code, message: e.message } }
  throw new Error('no error')
}

await mc.makeBucket(bucket)
await mc.putObject(bucket, 'a/small.txt', Buffer.from('hello'), 5, { 'Content-Type': 'text/plain', 'x-amz-meta-colour': 'blue' })
const stat = await mc.statObject(bucket, 'a/small.txt')
out.stat = { size: stat.size, type: stat.metaData['content-type'], colour: stat.metaData.colour }
const big = fs.readFileSync(args.file)
out.streamed = await mc.putObject(bucket, 'big.bin', Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]))
await mc.fPutObject(bucket, 'f.bin', args.file)
out.partial = await text(await mc.getPartialObject(bucket, 'a/small.txt', 1, 3))
out.oddBack = []
for (const key of args.oddKeys) {
  await mc.putObject(bucket, `odd/${key}`, Buffer.from(key))
  out.oddBack.push(await text(await mc.getObject(bucket, `odd/${key}`)))
}
out.listed = await names(mc.listObjects(bucket, '', true))
out.startAfter = await names(mc.listObjectsV2(bucket, '', false, 'a/small.txt'))

const conditions = new Minio.CopyConditions()
conditions.setMatchETag('nope')
out.copyRefused = await failure(() => mc.copyObject(bucket, 'copy.txt', `/${bucket}/a/small.txt`, conditions))
await mc.copyObject(new Minio.CopySourceOptions({ Bucket: bucket, Object: 'a/small.txt' }),
  new Minio.CopyDestinationOptions({ Bucket: bucket, Object: 'copy.txt', MetadataDirective: 'REPLACE', UserMetadata: { shape: 'round' } }))
await mc.composeObject(new Minio.CopyDestinationOptions({ Bucket: bucket, Object: 'composed' }), [
  new Minio.CopySourceOptions({ Bucket: bucket, Object: 'big.bin' }),
  new Minio.CopySourceOptions({ Bucket: bucket, Object: 'a/small.txt', MatchRange: true, Start: 0, End: 2 })])
await mc.putObject(bucket, 'gone', Buffer.from('x'))
out.removeErrors = await mc.removeObjects(bucket, ['gone', 'never-there'])

const getUrl = await mc.presignedGetObject(bucket, 'a/small.txt', 600, { 'response-content-type': 'text/csv' })
const got = await fetch(getUrl)
out.presignedGet = { status: got.status, type: got.headers.get('content-type'), body: await got.text() }
out.presignedPut = (await fetch(await mc.presignedPutObject(bucket, 'put.txt', 600), { method: 'PUT', body: 'presigned' })).status

const policy = mc.newPostPolicy()
policy.setBucket(bucket)
policy.setKeyStartsWith('up/')
policy.setExpires(new Date(Date.now() + 600e3))
policy.setContentType('text/plain')
policy.setContentLengthRange(1, 100)
const { postURL, formData } = await mc.presignedPostPolicy(policy)
const post = async (body, type = 'text/plain') => {
  const form = new FormData()
  for (const [k, v] of Object.entries({ ...formData, key: 'up/post.txt', 'Content-Type': type })) form.append(k, v)
  form.append('file', new Blob([body]))
  return (await fetch(postURL, { method: 'POST', body: form })).status
}
out.post = { tooBig: await post('x'.repeat(101)), wrongType: await post('x', 'text/html'), ok: await post('posted') }

await mc.setBucketVersioning(bucket, { Status: 'Enabled' })
out.versioning = await mc.getBucketVersioning(bucket)
await mc.setObjectTagging(bucket, 'a/small.txt', { team: 'blue' })
out.objectTags = await mc.getObjectTagging(bucket, 'a/small.txt')
await mc.putObject(bucket, 'kms', Buffer.from('k'), 1, { 'x-amz-server-side-encryption': 'aws:kms' })
out.kms = (await mc.statObject(bucket, 'kms')).metaData['x-amz-server-side-encryption']
out.select = await failure(() => mc.selectObjectContent(bucket, 'a/small.txt', { expression: 'select * from s3object',
  expressionType: 'SQL', inputSerialization: { CSV: {} }, outputSerialization: { CSV: {} } }))

const locked = `${bucket}-lock`
await mc.makeBucket(locked, 'us-east-1', { ObjectLocking: true })
await mc.putObject(locked, 'o', Buffer.from('x'))
await mc.putObjectRetention(locked, 'o', { mode: 'GOVERNANCE', retainUntilDate: new Date(Date.now() + 86400e3).toISOString() })
await mc.setObjectLegalHold(locked, 'o', { status: 'ON' })
out.lock = { retention: (await mc.getObjectRetention(locked, 'o')).mode, legalHold: (await mc.getObjectLegalHold(locked, 'o')).Status }

out.missing = await failure(() => mc.getObject(bucket, 'missing'))
out.noBucket = await failure(() => mc.getObject(`${bucket}-none`, 'missing'))
out.badKey = await failure(() => new Minio.Client({ ...options, accessKey: 'AKIAIOSFODNN7EXAMPLE', sessionToken: undefined }).listBuckets())
out.badSecret = await failure(() => new Minio.Client({ ...options, secretKey: 'wrong' }).listBuckets())

await anywhere.makeBucket(`${bucket}-eu`, 'eu-west-1')
await anywhere.putObject(`${bucket}-eu`, 'k', Buffer.from('eu'))
out.euGet = await text(await anywhere.getObject(`${bucket}-eu`, 'k'))

console.log(JSON.stringify(out))

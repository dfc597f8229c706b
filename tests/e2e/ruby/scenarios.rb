# Scenarios of the AWS SDK for Ruby v3 (Debian's aws-sdk-core, aws-sdk-s3, aws-sdk-kms)
# against Skyhold, configured as for any custom endpoint: static credentials, region
# us-east-1, the endpoint set to Skyhold's URL and path-style S3.
#
# Usage: ruby scenarios.rb SCENARIO  (env SKYHOLD_ENDPOINT, SKYHOLD_KEY_ID, SKYHOLD_SECRET;
# some scenarios read more, see each)
# prints one JSON object: what the scenario observed, the HTTP requests the SDK sent
# ("requests": one "Operation status" each, so a retried call shows twice) and, if a
# call failed unexpectedly, "error".
require 'aws-sdk-core'
require 'aws-sdk-s3'
require 'aws-sdk-kms'
require 'digest'
require 'erb'
require 'json'
require 'net/http'
require 'securerandom'
require 'tmpdir'

# Every HTTP request the SDK sends, retries included, as "Operation status".
REQUESTS = []
REQUESTS_LOCK = Mutex.new

module CountRequests
  def call(context)
    response = super
    REQUESTS_LOCK.synchronize do
      REQUESTS << "#{context.operation.name} #{context.http_response.status_code}"
    end
    response
  end
end
Seahorse::Client::NetHttp::Handler.prepend(CountRequests)

# On an instance (`skyhold instance exec`), AWS_ENDPOINT_URL, which this SDK predates.
ENDPOINT = ENV['SKYHOLD_ENDPOINT'] || ENV.fetch('AWS_ENDPOINT_URL')
# Retries limited (the SDK's default is 3): a retried call still shows in REQUESTS.
COMMON = { region: 'us-east-1', endpoint: ENDPOINT, retry_limit: 2 }.freeze

def static_credentials
  Aws::Credentials.new(ENV.fetch('SKYHOLD_KEY_ID'), ENV.fetch('SKYHOLD_SECRET'))
end

def s3_client(credentials = static_credentials)
  Aws::S3::Client.new(**COMMON, credentials: credentials, force_path_style: true)
end

def kms_client(credentials = static_credentials)
  Aws::KMS::Client.new(**COMMON, credentials: credentials)
end

def sts_client(credentials = static_credentials)
  Aws::STS::Client.new(**COMMON, credentials: credentials)
end

# The error a call must end in, as the SDK parsed it (nil if it did not fail).
def api_error
  yield
  nil
rescue Aws::Errors::ServiceError => e
  response = e.context.http_response
  { 'class' => e.class.name, 'code' => e.code, 'message' => e.message, 'status' => response.status_code,
    'request_id' => response.headers['x-amz-request-id'] || response.headers['x-amzn-requestid'] }
end

def http_get(url)
  Net::HTTP.get_response(URI(url))
end

def new_bucket(s3, prefix)
  name = "#{prefix}-#{SecureRandom.hex(6)}"
  s3.create_bucket(bucket: name)
  name
end

def empty_and_delete(s3, bucket)
  keys = s3.list_objects_v2(bucket: bucket).flat_map { |page| page.contents.map(&:key) }
  s3.delete_objects(bucket: bucket, delete: { objects: keys.map { |k| { key: k } } }) unless keys.empty?
  s3.delete_bucket(bucket: bucket)
end

# STS: who the key is, a role assumed with Aws::AssumeRoleCredentials (SKYHOLD_ROLE_ARN,
# which allows nothing) and its credentials used, and a role the key may not assume.
def scenario_sts
  out = {}
  sts = sts_client
  me = sts.get_caller_identity
  out.update('account' => me.account, 'arn' => me.arn, 'user_id' => me.user_id)
  role = Aws::AssumeRoleCredentials.new(client: sts, role_arn: ENV.fetch('SKYHOLD_ROLE_ARN'),
                                        role_session_name: 'ruby-sdk', duration_seconds: 900)
  out['expires_in'] = (role.expiration - Time.now).round
  as_role = sts_client(role).get_caller_identity
  out.update('role_arn' => as_role.arn, 'role_user_id' => as_role.user_id,
             'access_key_prefix' => role.credentials.access_key_id[0, 4])
  out['role_denied'] = api_error { s3_client(role).list_buckets }
  missing = ENV.fetch('SKYHOLD_ROLE_ARN').sub(/role\/.*/, 'role/nothing')
  out['assume_denied'] = api_error { sts.assume_role(role_arn: missing, role_session_name: 'ruby-sdk') }
  out
end

ODD_KEY = 'odd/a b+c=d&e?f#g%h ü~!.txt'

# S3 objects: put/get/head, paging, an odd key copied, presigned GET and PUT through
# Net::HTTP, conditional GETs, missing keys and buckets, DeleteObjects.
def scenario_s3
  out = {}
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby')
  5.times do |i|
    s3.put_object(bucket: bucket, key: "dir/object-#{i}.txt", body: "hello dir/object-#{i}.txt",
                  content_type: 'text/plain', metadata: { 'owner' => 'ruby' })
  end
  got = s3.get_object(bucket: bucket, key: 'dir/object-1.txt')
  out.update('body' => got.body.read, 'content_type' => got.content_type, 'metadata' => got.metadata,
             'etag' => got.etag, 'last_modified' => got.last_modified.class.name)
  head = s3.head_object(bucket: bucket, key: 'dir/object-1.txt')
  out.update('head_length' => head.content_length, 'head_etag' => head.etag)

  pages = s3.list_objects_v2(bucket: bucket, prefix: 'dir/', max_keys: 2).to_a
  out.update('pages' => pages.size, 'listed' => pages.flat_map { |p| p.contents.map(&:key) },
             'key_counts' => pages.map(&:key_count), 'truncated' => pages.map(&:is_truncated))
  out['resource_listed'] = Aws::S3::Bucket.new(bucket, client: s3).objects(prefix: 'dir/').map(&:key)

  # An odd key: copied with CopyObject (CopySource URL-encoded, as the SDK asks) and
  # with the resource API's copy_to (which encodes it).
  s3.put_object(bucket: bucket, key: ODD_KEY, body: 'odd')
  copied = s3.copy_object(bucket: bucket, key: "#{ODD_KEY} copy",
                          copy_source: "#{bucket}/#{ERB::Util.url_encode(ODD_KEY)}")
  out['copy_etag'] = copied.copy_object_result.etag
  Aws::S3::Object.new(bucket, ODD_KEY, client: s3).copy_to(bucket: bucket, key: "#{ODD_KEY} again")
  out['odd_keys'] = s3.list_objects_v2(bucket: bucket, prefix: 'odd/').contents.map(&:key)
  out['odd_copy_body'] = s3.get_object(bucket: bucket, key: "#{ODD_KEY} again").body.read

  # Presigned URLs (Aws::S3::Presigner) used with Net::HTTP.
  presigner = Aws::S3::Presigner.new(client: s3)
  url = presigner.presigned_url(:get_object, bucket: bucket, key: 'dir/object-0.txt', expires_in: 300)
  response = http_get(url)
  out.update('presigned_status' => response.code.to_i, 'presigned_body' => response.body)
  odd = http_get(presigner.presigned_url(:get_object, bucket: bucket, key: ODD_KEY))
  out['odd_presigned'] = "#{odd.code} #{odd.body}"
  put_url, headers = presigner.presigned_request(:put_object, bucket: bucket, key: 'put.txt',
                                                 content_type: 'text/csv', metadata: { 'via' => 'presigned' })
  uri = URI(put_url)
  # The signed Content-Type is not among the headers presigned_request returns; sent as signed.
  put = Net::HTTP::Put.new(uri, headers.merge('content-type' => 'text/csv'))
  put.body = 'a,b'
  response = Net::HTTP.start(uri.host, uri.port) { |http| http.request(put) }
  out['presigned_put_status'] = response.code.to_i
  put_back = s3.get_object(bucket: bucket, key: 'put.txt')
  out['presigned_put'] = [put_back.body.read, put_back.content_type, put_back.metadata]
  # A URL whose path is changed after signing.
  signed = presigner.presigned_url(:get_object, bucket: bucket, key: 'put.txt')
  out['tampered_status'] = http_get(signed.sub('put.txt', 'dir/object-0.txt')).code.to_i

  # Conditional GETs: a matching If-None-Match, a failing If-Match.
  out['not_modified'] = api_error { s3.get_object(bucket: bucket, key: 'dir/object-1.txt', if_none_match: got.etag) }
  out['precondition'] = api_error { s3.get_object(bucket: bucket, key: 'dir/object-1.txt', if_match: '"0"') }
  out['modified_since'] = s3.get_object(bucket: bucket, key: 'dir/object-1.txt',
                                        if_modified_since: Time.at(0)).body.read

  out['missing'] = api_error { s3.get_object(bucket: bucket, key: 'never-written') }
  out['head_missing'] = api_error { s3.head_object(bucket: bucket, key: 'never-written') }
  out['no_bucket'] = api_error { s3.list_objects_v2(bucket: "#{bucket}-gone") }
  out['exists'] = [Aws::S3::Object.new(bucket, 'put.txt', client: s3).exists?,
                   Aws::S3::Object.new(bucket, 'never-written', client: s3).exists?]

  keys = s3.list_objects_v2(bucket: bucket).contents.map(&:key) + ['never-written']
  deleted = s3.delete_objects(bucket: bucket, delete: { objects: keys.map { |k| { key: k } } })
  out.update('deleted' => deleted.deleted.map(&:key), 'delete_errors' => deleted.errors.size,
             'left' => s3.list_objects_v2(bucket: bucket).key_count)
  s3.delete_bucket(bucket: bucket)
  out
end

# A browser form's upload (Aws::S3::PresignedPost) posted with Net::HTTP, a policy
# condition it breaks, a waiter, and a wrong secret (not retried).
def scenario_post
  out = {}
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby-post')
  post = Aws::S3::Bucket.new(bucket, client: s3).presigned_post(
    key_starts_with: 'uploads/', content_length_range: 1..64, success_action_status: '201',
    content_type: 'text/plain', metadata: { 'via' => 'form' }
  )
  out['url'] = post.url
  send_form = lambda do |key, content|
    uri = URI(post.url)
    form = post.fields.merge('key' => key).to_a + [['file', content, { filename: 'a.txt' }]]
    request = Net::HTTP::Post.new(uri)
    request.set_form(form, 'multipart/form-data')
    Net::HTTP.start(uri.host, uri.port) { |http| http.request(request) }
  end
  posted = send_form.call('uploads/form.txt', 'posted by a form')
  out.update('post_status' => posted.code.to_i, 'post_body' => posted.body)
  object = Aws::S3::Object.new(bucket, 'uploads/form.txt', client: s3)
  object.wait_until_exists(max_attempts: 2, delay: 0)
  out['posted'] = [object.get.body.read, object.content_type, object.metadata]
  too_big = send_form.call('uploads/big.txt', 'x' * 65)
  out['too_big'] = [too_big.code.to_i, too_big.body]
  outside = send_form.call('elsewhere.txt', 'x')
  out['outside'] = [outside.code.to_i, outside.body]

  wrong = s3_client(Aws::Credentials.new(ENV.fetch('SKYHOLD_KEY_ID'), 'not-the-secret'))
  out['wrong_secret'] = api_error { wrong.list_objects_v2(bucket: bucket) }
  out['unknown_key'] = api_error do
    s3_client(Aws::Credentials.new('AKIAIOSFODNN7EXAMPLE', 'x')).list_objects_v2(bucket: bucket)
  end
  empty_and_delete(s3, bucket)
  out
end

# Versioning: versions and delete markers through the resource API, tags, delimiters.
def scenario_versions
  out = {}
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby-ver')
  s3.put_bucket_versioning(bucket: bucket, versioning_configuration: { status: 'Enabled' })
  first = s3.put_object(bucket: bucket, key: 'a/v.txt', body: 'one', tagging: 'team=ruby&tier=1')
  second = s3.put_object(bucket: bucket, key: 'a/v.txt', body: 'two')
  s3.put_object(bucket: bucket, key: 'b/w.txt', body: 'w')
  out['versions_differ'] = first.version_id != second.version_id
  out['first_body'] = s3.get_object(bucket: bucket, key: 'a/v.txt', version_id: first.version_id).body.read
  out['tags'] = s3.get_object_tagging(bucket: bucket, key: 'a/v.txt', version_id: first.version_id)
                  .tag_set.map { |t| "#{t.key}=#{t.value}" }
  deleted = s3.delete_object(bucket: bucket, key: 'a/v.txt')
  out['delete_marker'] = deleted.delete_marker
  out['gone'] = api_error { s3.get_object(bucket: bucket, key: 'a/v.txt') }
  out['marker_get'] = api_error { s3.get_object(bucket: bucket, key: 'a/v.txt', version_id: deleted.version_id) }
  listed = s3.list_object_versions(bucket: bucket, prefix: 'a/')
  out['versions'] = listed.versions.map { |v| [v.key, v.is_latest, v.size] }
  out['markers'] = listed.delete_markers.map { |m| [m.key, m.is_latest] }
  out['resource_versions'] = Aws::S3::Bucket.new(bucket, client: s3).object_versions.map(&:key).sort
  top = s3.list_objects_v2(bucket: bucket, delimiter: '/')
  out['prefixes'] = top.common_prefixes.map(&:prefix)
  out['bucket_exists'] = [Aws::S3::Bucket.new(bucket, client: s3).exists?,
                          Aws::S3::Bucket.new("#{bucket}-gone", client: s3).exists?]
  everything = listed.versions.map { |v| { key: v.key, version_id: v.version_id } } +
               listed.delete_markers.map { |m| { key: m.key, version_id: m.version_id } }
  s3.list_object_versions(bucket: bucket, prefix: 'b/').versions.each do |v|
    everything << { key: v.key, version_id: v.version_id }
  end
  out['deleted_versions'] = s3.delete_objects(bucket: bucket, delete: { objects: everything }).deleted.size
  s3.delete_bucket(bucket: bucket)
  out
end

# A machine whose clock is 20 minutes fast: each service refuses the first signature,
# and the SDK's standard retry mode (the legacy one retries without correcting), reading
# the server's time from the answer's Date header, corrects its clock and signs again.
def scenario_skew
  class << Time
    alias_method :wall_now, :now
    def now
      wall_now + 20 * 60
    end
  end
  standard = { **COMMON, credentials: static_credentials, retry_mode: 'standard', max_attempts: 3 }
  standard.delete(:retry_limit)
  s3 = Aws::S3::Client.new(**standard, force_path_style: true)
  { 'buckets' => s3.list_buckets.buckets.class.name,
    'again' => s3.list_buckets.buckets.class.name,
    'keys' => Aws::KMS::Client.new(**standard).list_keys.keys.class.name,
    'identity' => Aws::STS::Client.new(**standard).get_caller_identity.arn,
    'skewed' => api_error { s3_client.list_buckets } }
end

# A bucket of another region: the SDK adds its region as LocationConstraint; a client of
# us-east-1 finds the region with GetBucketLocation, and is refused other calls (the SDK
# re-signs for the bucket's region only on AWS's own endpoints).
def scenario_region
  out = {}
  eu = Aws::S3::Client.new(**COMMON, region: 'eu-west-1', credentials: static_credentials, force_path_style: true)
  us = s3_client
  bucket = new_bucket(eu, 'ruby-eu')
  eu.put_object(bucket: bucket, key: 'k', body: 'eu')
  out['location'] = us.get_bucket_location(bucket: bucket).location_constraint
  out['head_region'] = eu.head_bucket(bucket: bucket).context.http_response.headers['x-amz-bucket-region']
  out['wrong_region'] = api_error { us.get_object(bucket: bucket, key: 'k') }
  out['body'] = eu.get_object(bucket: bucket, key: 'k').body.read
  empty_and_delete(eu, bucket)
  out
end

# On an EC2 instance: no key anywhere, Aws::InstanceProfileCredentials gets the instance
# profile's role through the metadata service (IMDSv2: a token first). This SDK takes
# the host of AWS_EC2_METADATA_SERVICE_ENDPOINT but not its port (aws-sdk-ruby#2997,
# fixed in aws-sdk-core 3.191.5): a program on an instance of Skyhold's, whose metadata
# service has a port of its own, passes the port.
def scenario_instance
  port = URI(ENV.fetch('AWS_EC2_METADATA_SERVICE_ENDPOINT')).port
  provider = Aws::InstanceProfileCredentials.new(port: port, retries: 0)
  out = { 'expires_in' => (provider.expiration - Time.now).round,
          'identity' => Aws::STS::Client.new(**COMMON, credentials: provider).get_caller_identity.arn }
  s3 = Aws::S3::Client.new(**COMMON, credentials: provider, force_path_style: true)
  out['buckets'] = s3.list_buckets.buckets.class.name
  out['denied'] = api_error { s3.create_bucket(bucket: "ruby-instance-#{SecureRandom.hex(4)}") }
  out
end

# A role's credentials expiring on Skyhold's clock (moved forward by SKYHOLD_ADVANCE, a
# command as a JSON array) while the SDK still holds them: S3 answers ExpiredToken, and
# the SDK refreshes Aws::AssumeRoleCredentials and sends the call again.
def scenario_expiry
  role = Aws::AssumeRoleCredentials.new(client: sts_client, role_arn: ENV.fetch('SKYHOLD_ROLE_ARN'),
                                        role_session_name: 'ruby-expiry', duration_seconds: 900)
  s3 = s3_client(role)
  out = { 'before' => s3.list_buckets.buckets.class.name }
  first_key = role.credentials.access_key_id
  raise 'the clock did not move' unless system(*JSON.parse(ENV.fetch('SKYHOLD_ADVANCE')), out: File::NULL)

  out['expired'] = api_error { s3_client(role.credentials).list_buckets }
  out['after'] = s3.list_buckets.buckets.class.name
  out['refreshed'] = role.credentials.access_key_id != first_key
  out
end

# Server-side encryption over HTTPS (AWS_CA_BUNDLE): SSE-C (the SDK base64-encodes the
# key and adds its MD5), multipart with SSE-C, SSE-KMS, in SKYHOLD_BUCKET (which allows
# SSE-C).
def scenario_sse
  out = {}
  s3 = s3_client
  bucket = ENV.fetch('SKYHOLD_BUCKET')
  key = 'k' * 32
  sse_c = { sse_customer_algorithm: 'AES256', sse_customer_key: key }
  put = s3.put_object(bucket: bucket, key: 'c.txt', body: 'customer keyed', **sse_c)
  out['put'] = [put.sse_customer_algorithm, put.sse_customer_key_md5]
  out['got'] = s3.get_object(bucket: bucket, key: 'c.txt', **sse_c).body.read
  out['no_key'] = api_error { s3.get_object(bucket: bucket, key: 'c.txt') }
  out['wrong_key'] = api_error { s3.head_object(bucket: bucket, key: 'c.txt', **sse_c, sse_customer_key: 'w' * 32) }
  s3.copy_object(bucket: bucket, key: 'c copy.txt', copy_source: "#{bucket}/c.txt", **sse_c,
                 copy_source_sse_customer_algorithm: 'AES256', copy_source_sse_customer_key: key)
  out['copied'] = s3.get_object(bucket: bucket, key: 'c copy.txt', **sse_c).body.read
  Dir.mktmpdir do |dir|
    path = File.join(dir, 'big.bin')
    File.binwrite(path, 'x' * (6 * 1024 * 1024))
    Aws::S3::Object.new(bucket, 'big.bin', client: s3).upload_file(path, multipart_threshold: 5 * 1024 * 1024, **sse_c)
  end
  big = s3.head_object(bucket: bucket, key: 'big.bin', **sse_c)
  out['big'] = [big.content_length, big.etag.end_with?('-2"'), big.sse_customer_algorithm]
  kms_key = kms_client.create_key(description: 'ruby sse').key_metadata
  kms_put = s3.put_object(bucket: bucket, key: 'kms.txt', body: 'kms keyed', server_side_encryption: 'aws:kms',
                          ssekms_key_id: kms_key.key_id)
  got = s3.get_object(bucket: bucket, key: 'kms.txt')
  out['kms'] = [kms_put.server_side_encryption, kms_put.ssekms_key_id == kms_key.arn, got.body.read,
                got.server_side_encryption, got.ssekms_key_id == kms_key.arn]
  out
end

# A presigned PUT whose x-amz-* parameters (metadata, tagging, storage class) the
# Presigner moved into the signed query string, used with no header at all.
def scenario_hoisted
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby-hoist')
  url = Aws::S3::Presigner.new(client: s3).presigned_url(
    :put_object, bucket: bucket, key: 'h.txt', metadata: { 'via' => 'query' }, tagging: 'team=ruby',
                 storage_class: 'STANDARD_IA'
  )
  uri = URI(url)
  put = Net::HTTP::Put.new(uri, 'content-type' => '')
  put.body = 'hoisted'
  response = Net::HTTP.start(uri.host, uri.port) { |http| http.request(put) }
  head = s3.head_object(bucket: bucket, key: 'h.txt')
  out = { 'query' => uri.query.split('&').map { |p| p.split('=').first }.grep(/^x-amz-/).sort,
          'status' => response.code.to_i, 'metadata' => head.metadata, 'storage_class' => head.storage_class,
          'tags' => s3.get_object_tagging(bucket: bucket, key: 'h.txt').tag_set.map { |t| "#{t.key}=#{t.value}" } }
  empty_and_delete(s3, bucket)
  out
end

BIG = 11 * 1024 * 1024

# Managed transfers: upload_file of a multipart-sized file (MultipartFileUploader, parts
# in threads), download_file by parts, upload_stream.
def scenario_multipart
  out = {}
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby-mp')
  Dir.mktmpdir do |dir|
    path = File.join(dir, 'big.bin')
    data = (0...BIG / 16).map { '0123456789abcdef' }.join
    File.binwrite(path, data)
    object = Aws::S3::Object.new(bucket, 'big.bin', client: s3)
    out['uploaded'] = object.upload_file(path, multipart_threshold: 5 * 1024 * 1024, content_type: 'application/x-test')
    head = s3.head_object(bucket: bucket, key: 'big.bin')
    out.update('etag' => head.etag, 'size' => head.content_length, 'content_type' => head.content_type)
    part = s3.head_object(bucket: bucket, key: 'big.bin', part_number: 1)
    out.update('part_length' => part.content_length, 'parts_count' => part.parts_count)
    copy = File.join(dir, 'copy.bin')
    object.download_file(copy)
    out['download_matches'] = Digest::SHA256.file(copy).hexdigest == Digest::SHA256.hexdigest(data)

    streamed = Aws::S3::Object.new(bucket, 'streamed.bin', client: s3)
    streamed.upload_stream(part_size: 5 * 1024 * 1024) { |w| 3.times { w.write(data[0, 4 * 1024 * 1024]) } }
    out['stream_etag'] = streamed.etag
    out['stream_size'] = streamed.content_length
  end
  out['uploads_left'] = s3.list_multipart_uploads(bucket: bucket).uploads.size
  empty_and_delete(s3, bucket)
  out
end

# Flexible checksums (this SDK computes CRC32, SHA1 and SHA256 and sends them in
# headers; CRC32C needs aws-crt) and their validation on GET.
def scenario_checksums
  out = {}
  s3 = s3_client
  bucket = new_bucket(s3, 'ruby-sum')
  %w[CRC32 SHA1 SHA256].each do |algorithm|
    key = "summed-#{algorithm}.txt"
    put = s3.put_object(bucket: bucket, key: key, body: 'checksummed', checksum_algorithm: algorithm)
    got = s3.get_object(bucket: bucket, key: key, checksum_mode: 'ENABLED')
    out[algorithm] = { 'put' => put.send("checksum_#{algorithm.downcase}"),
                       'got' => got.send("checksum_#{algorithm.downcase}"),
                       'validated' => got.context[:http_checksum][:validated], 'body' => got.body.read }
  end
  wrong = Digest::SHA256.base64digest('something else')
  out['mismatch'] = api_error do
    s3.put_object(bucket: bucket, key: 'bad.txt', body: 'checksummed', checksum_sha256: wrong)
  end
  out['md5_mismatch'] = api_error do
    s3.put_object(bucket: bucket, key: 'bad.txt', body: 'checksummed', content_md5: Digest::MD5.base64digest('x'))
  end
  attributes = s3.get_object_attributes(bucket: bucket, key: 'summed-SHA256.txt',
                                        object_attributes: %w[Checksum ObjectSize ETag])
  out['attributes'] = { 'sha256' => attributes.checksum.checksum_sha256, 'size' => attributes.object_size,
                        'etag' => attributes.etag }
  empty_and_delete(s3, bucket)
  out
end

# KMS: a key of its own, Encrypt/Decrypt with an encryption context, GenerateDataKey
# through an alias, a wrong context, a missing key.
def scenario_kms
  out = {}
  kms = kms_client
  key = kms.create_key(description: 'ruby sdk').key_metadata
  out.update('key_arn' => key.arn, 'key_state' => key.key_state, 'key_usage' => key.key_usage)
  context = { 'purpose' => 'ruby' }
  sealed = kms.encrypt(key_id: key.key_id, plaintext: 'secret data', encryption_context: context)
  opened = kms.decrypt(ciphertext_blob: sealed.ciphertext_blob, encryption_context: context)
  out.update('encrypt_key_id' => sealed.key_id, 'decrypt_key_id' => opened.key_id, 'plaintext' => opened.plaintext)
  out['wrong_context'] = api_error do
    kms.decrypt(ciphertext_blob: sealed.ciphertext_blob, encryption_context: { 'purpose' => 'other' })
  end
  alias_name = "alias/ruby-#{SecureRandom.hex(4)}"
  kms.create_alias(alias_name: alias_name, target_key_id: key.key_id)
  data_key = kms.generate_data_key(key_id: alias_name, key_spec: 'AES_256')
  out.update('data_key_id' => data_key.key_id, 'data_key_length' => data_key.plaintext.bytesize,
             'data_key_opens' => kms.decrypt(ciphertext_blob: data_key.ciphertext_blob).plaintext == data_key.plaintext)
  out['missing_key'] = api_error { kms.describe_key(key_id: '00000000-0000-4000-8000-000000000000') }
  out
end

# Client-side encryption (Aws::S3::EncryptionV2::Client): the data key from KMS, the
# object sealed with AES-GCM before it leaves, opened on GET.
def scenario_encryption
  out = {}
  s3 = s3_client
  kms = kms_client
  bucket = new_bucket(s3, 'ruby-cse')
  key_id = kms.create_key(description: 'ruby cse').key_metadata.key_id
  options = { client: s3, kms_client: kms, key_wrap_schema: :kms_context,
              content_encryption_schema: :aes_gcm_no_padding, security_profile: :v2 }
  Aws::S3::EncryptionV2::Client.new(**options, kms_key_id: key_id)
                               .put_object(bucket: bucket, key: 'sealed.txt', body: 'client-side secret')
  raw = s3.get_object(bucket: bucket, key: 'sealed.txt')
  out.update('stored_differs' => raw.body.read != 'client-side secret',
             'envelope' => raw.metadata.keys.sort)
  # Debian's aws-sdk-kms (1.24) predates Decrypt's KeyId, which a client given the key
  # sends: a client allowed any key sends none (the ciphertext names its key).
  opener = Aws::S3::EncryptionV2::Client.new(**options, kms_key_id: :kms_allow_decrypt_with_any_cmk)
  out['opened'] = opener.get_object(bucket: bucket, key: 'sealed.txt').body.read
  empty_and_delete(s3, bucket)
  out
end

# A caller allowed nothing: what each service answers, and a GET and a HEAD (whose error
# has no body) of an object in SKYHOLD_BUCKET.
def scenario_denied
  creds = static_credentials
  s3 = s3_client(creds)
  bucket = ENV.fetch('SKYHOLD_BUCKET')
  { 'arn' => sts_client(creds).get_caller_identity.arn,
    's3' => api_error { s3.list_buckets },
    's3_get' => api_error { s3.get_object(bucket: bucket, key: 'secret.txt') },
    's3_head' => api_error { s3.head_object(bucket: bucket, key: 'secret.txt') },
    'kms' => api_error { kms_client(creds).list_keys } }
end

scenario = ARGV.fetch(0)
result = begin
  send("scenario_#{scenario}")
rescue StandardError => e
  { 'error' => "#{e.class}: #{e.message}", 'backtrace' => e.backtrace.first(5) }
end
result['requests'] = REQUESTS
puts JSON.generate(result)

// Scenarios of the AWS SDK for Go v2 (which Terraform's AWS provider is built on)
// against Skyhold, configured as the provider configures it for custom endpoints:
// static credentials, region us-east-1, each service's endpoint resolved to one URL
// (HostnameImmutable) and path-style S3.
//
// Usage: scenarios SCENARIO  (env SKYHOLD_ENDPOINT, SKYHOLD_KEY_ID, SKYHOLD_SECRET; for
// HTTPS, AWS_CA_BUNDLE as for AWS)
// prints one JSON object: what the scenario observed, the number of HTTP requests it
// sent (a retried call sends more than one) and, if a call failed unexpectedly, "error".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

var ctx = context.Background()

// requests counts every HTTP request the SDK sends, retries included.
var requests int64

type countingClient struct{ next aws.HTTPClient }

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	atomic.AddInt64(&requests, 1)
	return c.next.Do(r)
}

// clients of every service used, for one set of credentials.
type clients struct {
	sts *sts.Client
	iam *iam.Client
	s3  *s3.Client
	kms *kms.Client
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

func newClients(provider aws.CredentialsProvider) clients {
	endpoint := os.Getenv("SKYHOLD_ENDPOINT")
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(provider),
	)
	must(err)
	// Count requests through the client LoadDefaultConfig set up (trusting AWS_CA_BUNDLE),
	// or the one the service clients would default to.
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = countingClient{cfg.HTTPClient}
	fixed := func(e *aws.Endpoint) { e.HostnameImmutable = true }
	return clients{
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) { o.EndpointResolver = sts.EndpointResolverFromURL(endpoint, fixed) }),
		iam: iam.NewFromConfig(cfg, func(o *iam.Options) { o.EndpointResolver = iam.EndpointResolverFromURL(endpoint, fixed) }),
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.EndpointResolver = s3.EndpointResolverFromURL(endpoint, fixed)
			o.UsePathStyle = true
		}),
		kms: kms.NewFromConfig(cfg, func(o *kms.Options) { o.EndpointResolver = kms.EndpointResolverFromURL(endpoint, fixed) }),
		sm: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			o.EndpointResolver = secretsmanager.EndpointResolverFromURL(endpoint, fixed)
		}),
		ssm: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.EndpointResolver = ssm.EndpointResolverFromURL(endpoint, fixed) }),
	}
}

// failure ends the scenario with the error of an unexpected failed call.
type failure struct{ err error }

func must(err error) {
	if err != nil {
		panic(failure{err})
	}
}

// apiError describes the error of a call as the SDK parsed it.
func apiError(err error) map[string]any {
	if err == nil {
		return nil
	}
	out := map[string]any{}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		out["type"], out["code"], out["message"], out["fault"] = fmt.Sprintf("%T", ae), ae.ErrorCode(), ae.ErrorMessage(), ae.ErrorFault().String()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		out["status"], out["request_id"] = re.HTTPStatusCode(), re.ServiceRequestID()
	}
	return out
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func policy(statements ...string) *string {
	return aws.String(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)
}

func scenarioSTS(c clients) map[string]any {
	me, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(err)
	role := unique("go-role")
	trust := policy(fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}`, *me.Account))
	_, err = c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &role, AssumeRolePolicyDocument: trust})
	must(err)
	_, err = c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: aws.String("list"),
		PolicyDocument: policy(`{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}`)})
	must(err)
	roleArn := fmt.Sprintf("arn:aws:iam::%s:role/%s", *me.Account, role)
	assumed, err := c.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &roleArn, RoleSessionName: aws.String("go-sdk"),
		DurationSeconds: aws.Int32(900)})
	must(err)
	k := assumed.Credentials
	as := newClients(credentials.NewStaticCredentialsProvider(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken))
	roleMe, err := as.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(err)
	_, err = as.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(err)
	_, denied := as.iam.ListUsers(ctx, &iam.ListUsersInput{})

	// Terraform's assume_role block: a session policy, session tags and a source identity.
	_, err = c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &role, PolicyDocument: policy(fmt.Sprintf(
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}`,
		*me.Account))})
	must(err)
	narrowed, err := c.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: &roleArn, RoleSessionName: aws.String("narrow"), SourceIdentity: aws.String("go-admin"),
		Policy: policy(`{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}`),
		Tags:   []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("go")}}, TransitiveTagKeys: []string{"team"}})
	must(err)
	k = narrowed.Credentials
	as = newClients(credentials.NewStaticCredentialsProvider(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken))
	_, narrowedDenied := as.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	return map[string]any{
		"narrowed_source_identity": aws.ToString(narrowed.SourceIdentity), "narrowed_denied": apiError(narrowedDenied),
		"account": *me.Account, "arn": *me.Arn, "user_id": *me.UserId,
		"assumed_role_arn": *assumed.AssumedRoleUser.Arn,
		"role_arn":         *roleMe.Arn, "role_user_id": *roleMe.UserId, "role_denied": apiError(denied),
	}
}

func scenarioIAM(c clients) map[string]any {
	path := "/" + unique("go") + "/"
	var created []string
	for i := 0; i < 5; i++ {
		name := unique(fmt.Sprintf("go-user%d", i))
		_, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &name, Path: &path})
		must(err)
		created = append(created, name)
	}
	key, err := c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &created[0]})
	must(err)
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &created[0], PolicyName: aws.String("read"),
		PolicyDocument: policy(`{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}`)})
	must(err)
	got, err := c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &created[0], PolicyName: aws.String("read")})
	must(err)
	var listed []string
	pages := 0
	paginator := iam.NewListUsersPaginator(c.iam, &iam.ListUsersInput{PathPrefix: &path, MaxItems: aws.Int32(2)})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		must(err)
		pages++
		for _, u := range page.Users {
			listed = append(listed, *u.UserName)
		}
	}
	_, missing := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(created[0] + "-missing")})
	_, twice := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &created[0]})
	return map[string]any{
		"missing": apiError(missing), "twice": apiError(twice),
		"created": created, "listed": listed, "pages": pages,
		"key_user": *key.AccessKey.UserName, "key_status": string(key.AccessKey.Status),
		"key_id": *key.AccessKey.AccessKeyId, "secret_length": len(*key.AccessKey.SecretAccessKey),
		"policy_document": *got.PolicyDocument,
	}
}

func scenarioS3(c clients) map[string]any {
	bucket := unique("go-bucket")
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	must(err)
	var keys []s3types.ObjectIdentifier
	for i := 0; i < 5; i++ {
		key := fmt.Sprintf("dir/object-%d.txt", i)
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("hello " + key),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"owner": "go"}})
		must(err)
		keys = append(keys, s3types.ObjectIdentifier{Key: aws.String(key)})
	}
	got, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: keys[1].Key})
	must(err)
	body, err := io.ReadAll(got.Body)
	must(err)
	got.Body.Close()

	var listed []string
	pages := 0
	paginator := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("dir/"), MaxKeys: 2})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		must(err)
		pages++
		for _, o := range page.Contents {
			listed = append(listed, *o.Key)
		}
	}

	// Multipart through the feature manager: 11 MiB in 5 MiB parts, read back in ranges.
	big := bytes.Repeat([]byte("0123456789abcdef"), 11*1024*1024/16)
	uploader := manager.NewUploader(c.s3, func(u *manager.Uploader) { u.PartSize = 5 * 1024 * 1024 })
	up, err := uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("big.bin"), Body: bytes.NewReader(big)})
	must(err)
	buf := manager.NewWriteAtBuffer(make([]byte, 0, len(big)))
	downloader := manager.NewDownloader(c.s3, func(d *manager.Downloader) { d.PartSize = 4 * 1024 * 1024 })
	n, err := downloader.Download(ctx, buf, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("big.bin")})
	must(err)

	// A presigned GET, fetched with net/http as a browser or curl would.
	presigned, err := s3.NewPresignClient(c.s3, s3.WithPresignExpires(5*time.Minute)).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: &bucket, Key: keys[0].Key})
	must(err)
	resp, err := http.Get(presigned.URL)
	must(err)
	presignedBody, err := io.ReadAll(resp.Body)
	must(err)
	resp.Body.Close()

	// Keys with characters that need escaping in the path, in a copy source and in a presigned URL.
	odd := "odd/a b+c=d&e?f#g%h ü~!.txt"
	_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(odd), Body: strings.NewReader("odd")})
	must(err)
	// The SDK sends CopySource as given: URL-encoded by the caller, "+" too (S3 reads a raw "+" as a space).
	source := strings.ReplaceAll(url.PathEscape(bucket+"/"+odd), "+", "%2B")
	_, err = c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String(odd + " copy"), CopySource: &source})
	must(err)
	oddListed, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("odd/")})
	must(err)
	var oddKeys []string
	for _, o := range oddListed.Contents {
		oddKeys = append(oddKeys, *o.Key)
	}
	oddURL, err := s3.NewPresignClient(c.s3).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(odd + " copy")})
	must(err)
	oddResp, err := http.Get(oddURL.URL)
	must(err)
	oddBody, err := io.ReadAll(oddResp.Body)
	must(err)
	oddResp.Body.Close()

	// A presigned PUT, as an application hands a browser.
	presignedPut, err := s3.NewPresignClient(c.s3).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("put.txt")})
	must(err)
	req, err := http.NewRequest(presignedPut.Method, presignedPut.URL, strings.NewReader("put by URL"))
	must(err)
	putResp, err := http.DefaultClient.Do(req)
	must(err)
	putResp.Body.Close()

	// Flexible checksums: the SDK sends one and validates the one it gets back.
	_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("summed.txt"),
		Body: strings.NewReader("checksummed"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256})
	must(err)
	summed, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("summed.txt"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	must(err)
	summedBody, err := io.ReadAll(summed.Body) // the SDK checks the checksum once the body is read
	must(err)
	summed.Body.Close()

	// How Terraform finds a bucket's region: an anonymous HeadBucket's x-amz-bucket-region.
	region, err := manager.GetBucketRegion(ctx, c.s3, bucket)
	must(err)
	_, headMissing := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("never-written")})

	keys = append(keys, s3types.ObjectIdentifier{Key: aws.String("big.bin")}, s3types.ObjectIdentifier{Key: aws.String("never-written")},
		s3types.ObjectIdentifier{Key: aws.String("put.txt")}, s3types.ObjectIdentifier{Key: aws.String("summed.txt")},
		s3types.ObjectIdentifier{Key: aws.String(odd)}, s3types.ObjectIdentifier{Key: aws.String(odd + " copy")})
	deleted, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{Objects: keys}})
	must(err)
	var deletedKeys []string
	for _, d := range deleted.Deleted {
		deletedKeys = append(deletedKeys, *d.Key)
	}
	left, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	must(err)
	_, missing := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: keys[0].Key})
	var noSuchKey *s3types.NoSuchKey
	_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	must(err)
	return map[string]any{
		"body": string(body), "content_type": *got.ContentType, "metadata": got.Metadata, "etag": *got.ETag,
		"listed": listed, "pages": pages,
		"multipart_etag": *up.ETag, "upload_id": up.UploadID, "downloaded": n, "download_matches": bytes.Equal(buf.Bytes(), big),
		"presigned_status": resp.StatusCode, "presigned_body": string(presignedBody),
		"deleted": deletedKeys, "delete_errors": len(deleted.Errors), "left": left.KeyCount,
		"missing": apiError(missing), "missing_is_no_such_key": errors.As(missing, &noSuchKey),
		"presigned_put_status": putResp.StatusCode, "summed_body": string(summedBody), "summed_checksum": aws.ToString(summed.ChecksumSHA256),
		"odd_keys": oddKeys, "odd_presigned": fmt.Sprintf("%d %s", oddResp.StatusCode, oddBody),
		"bucket_region": region, "head_missing": apiError(headMissing),
	}
}

// scenarioChecksums: flexible checksums as the SDK sends them over HTTPS: in an
// aws-chunked trailer (of the whole object, or of each part of a multipart upload).
func scenarioChecksums(c clients) map[string]any {
	bucket := unique("go-sums")
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	must(err)
	// An io.Reader that is not an io.Seeker (the SDK could not send it at all over HTTP).
	streamed := io.MultiReader(strings.NewReader("streamed "), strings.NewReader("body"))
	put, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("streamed.txt"), Body: streamed,
		ContentLength: int64(len("streamed body")), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
	must(err)
	got, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("streamed.txt"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	must(err)
	body, err := io.ReadAll(got.Body)
	must(err)
	got.Body.Close()

	big := bytes.Repeat([]byte("fedcba9876543210"), 11*1024*1024/16)
	uploader := manager.NewUploader(c.s3, func(u *manager.Uploader) { u.PartSize = 5 * 1024 * 1024 })
	up, err := uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("parts.bin"), Body: bytes.NewReader(big),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
	must(err)
	head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("parts.bin"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	must(err)
	return map[string]any{
		"put_checksum": aws.ToString(put.ChecksumCRC32), "got_checksum": aws.ToString(got.ChecksumCRC32), "body": string(body),
		"multipart_checksum": aws.ToString(up.ChecksumCRC32), "head_checksum": aws.ToString(head.ChecksumCRC32),
		"size": head.ContentLength,
	}
}

func scenarioKMS(c clients) map[string]any {
	key, err := c.kms.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("go sdk")})
	must(err)
	context := map[string]string{"purpose": "go"}
	enc, err := c.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("secret data"),
		EncryptionContext: context})
	must(err)
	dec, err := c.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context})
	must(err)
	_, wrongContext := c.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	// An alias, as Terraform's aws_kms_alias makes and applications name keys by.
	alias := "alias/" + unique("go")
	_, err = c.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: key.KeyMetadata.KeyId})
	must(err)
	byAlias, err := c.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: &alias, Plaintext: []byte("by alias")})
	must(err)
	dataKey, err := c.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &alias, KeySpec: kmstypes.DataKeySpecAes256})
	must(err)
	other, err := c.kms.CreateKey(ctx, &kms.CreateKeyInput{})
	must(err)
	_, wrongKey := c.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: byAlias.CiphertextBlob, KeyId: other.KeyMetadata.KeyId})
	return map[string]any{
		"alias_key_id": *byAlias.KeyId, "data_key_length": len(dataKey.Plaintext), "data_key_id": *dataKey.KeyId,
		"wrong_key": apiError(wrongKey),
		"key_arn":   *key.KeyMetadata.Arn, "encrypt_key_id": *enc.KeyId, "decrypt_key_id": *dec.KeyId,
		"plaintext": string(dec.Plaintext), "algorithm": string(dec.EncryptionAlgorithm),
		"wrong_context": apiError(wrongContext),
	}
}

func scenarioSecrets(c clients) map[string]any {
	name := unique("go/secret")
	created, err := c.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String(`{"password":"hunter2"}`)})
	must(err)
	got, err := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
	must(err)
	_, missing := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name + "-missing")})
	// What Terraform reads back and how it destroys: DescribeSecret, GetResourcePolicy, DeleteSecret.
	described, err := c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: created.ARN})
	must(err)
	resourcePolicy, err := c.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: created.ARN})
	must(err)
	deleted, err := c.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: created.ARN, RecoveryWindowInDays: aws.Int64(7)})
	must(err)
	afterDelete, err := c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: created.ARN})
	must(err)
	_, readDeleted := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
	return map[string]any{
		"described_name": *described.Name, "described_versions": len(described.VersionIdsToStages),
		"no_resource_policy": resourcePolicy.ResourcePolicy == nil, "deletion_days": int(deleted.DeletionDate.Sub(*afterDelete.DeletedDate).Hours() / 24),
		"read_deleted": apiError(readDeleted),
		"arn":          *created.ARN, "version_id": *created.VersionId, "got_arn": *got.ARN, "secret": *got.SecretString,
		"stages": got.VersionStages, "created_date": got.CreatedDate != nil, "missing": apiError(missing),
	}
}

func scenarioSSM(c clients) map[string]any {
	name := "/" + unique("go") + "/password"
	put, err := c.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: aws.String("hunter2"),
		Type: ssmtypes.ParameterTypeSecureString})
	must(err)
	plain, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: &name, WithDecryption: aws.Bool(true)})
	must(err)
	sealed, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: &name})
	must(err)
	_, missing := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name + "-missing")})
	// How Terraform reads a parameter's settings back: DescribeParameters filtered on its name.
	described, err := c.ssm.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{name}}}})
	must(err)
	var describedNames []string
	for _, p := range described.Parameters {
		describedNames = append(describedNames, *p.Name+" "+string(p.Type)+" "+string(p.Tier)+" "+aws.ToString(p.DataType))
	}
	// A path read one parameter a page.
	for i := 0; i < 2; i++ {
		_, err := c.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("%s/sub/%d", name, i)),
			Value: aws.String("v"), Type: ssmtypes.ParameterTypeString})
		must(err)
	}
	var byPath []string
	paginator := ssm.NewGetParametersByPathPaginator(c.ssm, &ssm.GetParametersByPathInput{Path: &name, Recursive: aws.Bool(true),
		MaxResults: aws.Int32(1)})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		must(err)
		for _, p := range page.Parameters {
			byPath = append(byPath, *p.Name)
		}
	}
	return map[string]any{
		"described": describedNames, "by_path": byPath,
		"version": put.Version, "tier": string(put.Tier), "value": *plain.Parameter.Value, "type": string(plain.Parameter.Type),
		"arn": *plain.Parameter.ARN, "sealed_differs": *sealed.Parameter.Value != "hunter2", "missing": apiError(missing),
	}
}

// scenarioDenied: a user without any permission calls each service.
func scenarioDenied(c clients) map[string]any {
	name := unique("go-nobody")
	_, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &name})
	must(err)
	key, err := c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
	must(err)
	nobody := newClients(credentials.NewStaticCredentialsProvider(*key.AccessKey.AccessKeyId, *key.AccessKey.SecretAccessKey, ""))
	me, err := nobody.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(err)
	out := map[string]any{"arn": *me.Arn}
	_, err = nobody.iam.ListUsers(ctx, &iam.ListUsersInput{})
	out["iam"] = apiError(err)
	_, err = nobody.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	out["s3"] = apiError(err)
	_, err = nobody.kms.ListKeys(ctx, &kms.ListKeysInput{})
	out["kms"] = apiError(err)
	_, err = nobody.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	out["secretsmanager"] = apiError(err)
	_, err = nobody.ssm.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	out["ssm"] = apiError(err)
	_, err = nobody.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(strings.Replace(*me.Arn, ":user/"+name, ":role/nothing", 1)),
		RoleSessionName: aws.String("go-sdk")})
	out["sts"] = apiError(err)

	// A user allowed DescribeParameters on the account's SSM ARNs only, as SSM checks it.
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &name, PolicyName: aws.String("describe"),
		PolicyDocument: policy(fmt.Sprintf(`{"Effect":"Allow","Action":"ssm:DescribeParameters","Resource":"arn:aws:ssm:us-east-1:%s:*"}`, *me.Account))})
	must(err)
	_, err = nobody.ssm.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	out["ssm_account_scoped"] = apiError(err)
	return out
}

var scenarios = map[string]func(clients) map[string]any{
	"sts": scenarioSTS, "iam": scenarioIAM, "s3": scenarioS3, "checksums": scenarioChecksums, "kms": scenarioKMS,
	"secretsmanager": scenarioSecrets, "ssm": scenarioSSM, "denied": scenarioDenied,
}

func main() {
	run, ok := scenarios[os.Args[len(os.Args)-1]]
	if len(os.Args) != 2 || !ok {
		fmt.Fprintln(os.Stderr, "usage: scenarios sts|iam|s3|checksums|kms|secretsmanager|ssm|denied")
		os.Exit(2)
	}
	out := map[string]any{}
	func() {
		defer func() {
			if r := recover(); r != nil {
				f, ok := r.(failure)
				if !ok {
					panic(r)
				}
				out["error"] = f.err.Error()
				out["error_detail"] = apiError(f.err)
			}
		}()
		creds := credentials.NewStaticCredentialsProvider(os.Getenv("SKYHOLD_KEY_ID"), os.Getenv("SKYHOLD_SECRET"), "")
		out = run(newClients(creds))
	}()
	out["requests"] = atomic.LoadInt64(&requests)
	must(json.NewEncoder(os.Stdout).Encode(out))
}

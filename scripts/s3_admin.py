#!/usr/bin/env python3
"""Admin CLI for the moto S3 server used by the integration tests.

Called by tests/common/s3.rs. Every subcommand talks to ``--endpoint`` with
``--key``/``--secret``, region us-east-1, path-style addressing and no retries
(a retry would hide a fault, and would spend the server's unauthenticated
action budget twice during ``setup-auth``). On a service error it prints
``Code (HTTP status): message`` to stderr and exits 1.

Subcommands:
  make-bucket NAME
  list-objects BUCKET [--prefix P]   -> "key<TAB>size" per line
  list-uploads BUCKET                -> "key<TAB>upload_id" per line
  setup-auth                         -> {"key": ..., "secret": ...}
Test-only helpers: start-upload, put-object, multipart-put, list-buckets.
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"
USER = "prefix-merge-test"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def client(args, service, key=None, secret=None):
    return boto3.client(
        service,
        endpoint_url=args.endpoint,
        aws_access_key_id=key or args.key,
        aws_secret_access_key=secret or args.secret,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def error_code(err):
    return err.response.get("Error", {}).get("Code", "")


def setup_auth(args):
    """Create a user allowed everything, return its key, check auth is on.

    The server is started with INITIAL_NO_AUTH_ACTION_COUNT=3: exactly the
    three IAM calls below run unauthenticated; every later request is checked.
    """
    iam = client(args, "iam")
    iam.create_user(UserName=USER)
    iam.put_user_policy(
        UserName=USER, PolicyName="allow-all", PolicyDocument=json.dumps(ALLOW_ALL)
    )
    access = iam.create_access_key(UserName=USER)["AccessKey"]
    key, secret = access["AccessKeyId"], access["SecretAccessKey"]

    # Auth must now be enforced: a wrong secret is refused ...
    try:
        client(args, "s3", key, secret + "x").list_buckets()
    except ClientError as err:
        if error_code(err) != "SignatureDoesNotMatch":
            raise
    else:
        sys.exit("setup-auth: a wrong secret was accepted; auth is not enforced")
    # ... and the new key is accepted.
    client(args, "s3", key, secret).list_buckets()
    print(json.dumps({"key": key, "secret": secret}))


def list_objects(args):
    pages = client(args, "s3").get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=args.bucket, Prefix=args.prefix):
        for obj in page.get("Contents", []):
            print(f"{obj['Key']}\t{obj['Size']}")


def list_uploads(args):
    pages = client(args, "s3").get_paginator("list_multipart_uploads")
    for page in pages.paginate(Bucket=args.bucket):
        for up in page.get("Uploads", []):
            print(f"{up['Key']}\t{up['UploadId']}")


def multipart_put(args):
    """Upload ``--parts`` parts of ``--part-size`` bytes plus ``--last`` bytes."""
    s3 = client(args, "s3")
    upload = s3.create_multipart_upload(Bucket=args.bucket, Key=args.key_name)
    sizes = [args.part_size] * args.parts + ([args.last] if args.last else [])
    parts = []
    for number, size in enumerate(sizes, start=1):
        body = bytes([number % 256]) * size
        etag = s3.upload_part(
            Bucket=args.bucket,
            Key=args.key_name,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=args.bucket,
        Key=args.key_name,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--key", default="setup", help="access key id")
    parser.add_argument("--secret", default="setup", help="secret access key")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("make-bucket")
    p.add_argument("bucket")
    p = sub.add_parser("list-objects")
    p.add_argument("bucket")
    p.add_argument("--prefix", default="")
    p = sub.add_parser("list-uploads")
    p.add_argument("bucket")
    sub.add_parser("setup-auth")
    sub.add_parser("list-buckets")
    p = sub.add_parser("start-upload")
    p.add_argument("bucket")
    p.add_argument("key_name", metavar="key")
    p = sub.add_parser("put-object")
    p.add_argument("bucket")
    p.add_argument("key_name", metavar="key")
    p.add_argument("--size", type=int, required=True)
    p = sub.add_parser("multipart-put")
    p.add_argument("bucket")
    p.add_argument("key_name", metavar="key")
    p.add_argument("--part-size", type=int, required=True)
    p.add_argument("--parts", type=int, required=True)
    p.add_argument("--last", type=int, default=0)
    args = parser.parse_args()

    try:
        if args.cmd == "setup-auth":
            setup_auth(args)
        elif args.cmd == "make-bucket":
            client(args, "s3").create_bucket(Bucket=args.bucket)
        elif args.cmd == "list-objects":
            list_objects(args)
        elif args.cmd == "list-uploads":
            list_uploads(args)
        elif args.cmd == "list-buckets":
            for b in client(args, "s3").list_buckets().get("Buckets", []):
                print(b["Name"])
        elif args.cmd == "start-upload":
            up = client(args, "s3").create_multipart_upload(
                Bucket=args.bucket, Key=args.key_name
            )
            print(up["UploadId"])
        elif args.cmd == "put-object":
            client(args, "s3").put_object(
                Bucket=args.bucket, Key=args.key_name, Body=b"\0" * args.size
            )
        elif args.cmd == "multipart-put":
            multipart_put(args)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = err.response.get("Error", {}).get("Message", "")
        sys.exit(f"{error_code(err)} ({status}): {msg}")
    except BotoCoreError as err:
        sys.exit(f"{type(err).__name__}: {err}")


if __name__ == "__main__":
    main()

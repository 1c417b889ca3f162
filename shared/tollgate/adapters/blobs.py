"""``services.ports.BlobStore`` on S3 (the invoice bucket: private, encrypted, versioned)."""

from __future__ import annotations

from typing import IO, Any

from botocore.exceptions import ClientError


class S3BlobStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_file(self, key: str, body: IO[bytes], content_type: str) -> None:
        self.client.upload_fileobj(body, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(response["Body"].read())

    def size(self, key: str) -> int | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return int(response["ContentLength"])

    def link(self, key: str, expires_in_s: int) -> str:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in_s
            )
        )

"""OSS wire facts shared by the client and the emulator: the error catalogue, ETags, endpoints, XML.

Sources for each fact are in docs/oss.md. Errors are XML documents
`<Error><Code/><Message/><RequestId/><HostId/><EC/></Error>`; a HEAD error has no body, so OSS sends the
same document base64-encoded in the `x-oss-err` header.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

REQUEST_ID_HEADER = "x-oss-request-id"
ERROR_HEADER = "x-oss-err"
FORBID_OVERWRITE_HEADER = "x-oss-forbid-overwrite"
# The OSS operations the emulator serves (fault rules may name them) and the client makes.
OSS_ACTIONS = frozenset(
    {
        "PutBucket",
        "DeleteBucket",
        "ListObjectsV2",
        "PutObject",
        "GetObject",
        "HeadObject",
        "GetObjectMeta",
        "DeleteObject",
    }
)
LIST_MAX_KEYS = 1000  # ListObjectsV2 max-keys upper bound
LIST_DEFAULT_MAX_KEYS = 100


@dataclass(frozen=True, slots=True)
class OssErrorSpec:
    code: str
    status: int
    message: str


OSS_ERRORS: dict[str, OssErrorSpec] = {
    spec.code: spec
    for spec in [
        OssErrorSpec("NoSuchBucket", 404, "The specified bucket does not exist."),
        OssErrorSpec("NoSuchKey", 404, "The specified key does not exist."),
        OssErrorSpec("BucketAlreadyExists", 409, "The requested bucket name is not available."),
        OssErrorSpec("BucketNotEmpty", 409, "The bucket you tried to delete is not empty."),
        OssErrorSpec("FileAlreadyExists", 409, "The object you specified already exists and can not be overwritten."),
        OssErrorSpec("AccessDenied", 403, "You have no right to access this object."),
        OssErrorSpec("InvalidAccessKeyId", 403, "The OSS Access Key Id you provided does not exist in our records."),
        OssErrorSpec(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. Check your key and "
            "signing method.",
        ),
        OssErrorSpec(
            "RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."
        ),
        OssErrorSpec("InvalidArgument", 400, "Invalid argument."),
        OssErrorSpec("InvalidDigest", 400, "The Content-MD5 you specified is not valid."),
        OssErrorSpec("InvalidBucketName", 400, "The specified bucket is not valid."),
        OssErrorSpec("InvalidObjectName", 400, "The specified object is not valid."),
        OssErrorSpec("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
        OssErrorSpec("NotImplemented", 501, "A header you provided implies functionality that is not implemented."),
    ]
}


def etag_of(body: bytes) -> str:
    """OSS's ETag of a simple upload: the body's MD5 in uppercase hex, in double quotes."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest().upper()}"'


def oss_host(bucket: str, region: str, *, internal: bool = False) -> str:
    """`<bucket>.oss-<region>[-internal].aliyuncs.com`: a bucket's virtual-hosted endpoint."""
    return f"{bucket}.oss-{region}{'-internal' if internal else ''}.aliyuncs.com"


def error_document(code: str, message: str, request_id: str, host_id: str, **extra: str) -> bytes:
    root = ET.Element("Error")
    for name, value in (("Code", code), ("Message", message), ("RequestId", request_id), ("HostId", host_id)):
        ET.SubElement(root, name).text = value
    for name, value in extra.items():
        ET.SubElement(root, name).text = value
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8")


@dataclass(frozen=True, slots=True)
class OssErrorFields:
    code: str
    message: str
    request_id: str | None


def parse_error(body: bytes, error_header: str | None) -> OssErrorFields | None:
    """The Code, Message and RequestId of an error response (from the body, else the x-oss-err header);
    None when neither holds an OSS error document."""
    if not body.strip() and error_header:
        try:
            body = base64.b64decode(error_header, validate=True)
        except ValueError:
            return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag != "Error":
        return None
    code = root.findtext("Code") or ""
    if not code:
        return None
    return OssErrorFields(code, root.findtext("Message") or "", root.findtext("RequestId"))

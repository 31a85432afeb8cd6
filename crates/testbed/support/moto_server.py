"""moto server for standby's tests and demo, with three response formats fixed and conditional
writes made atomic.

moto 5.1.x renders Route 53 record values as <![CDATA[...]]>. Real Route 53 sends plain escaped
text, and the AWS SDK for Rust's XML parser does not read CDATA sections, so every record would
read back as "". This swaps the CDATA for Jinja's XML escaping before the server starts; the
assertion makes a moto upgrade that changes the template fail loudly instead of silently.
"""
import re
import sys
import threading

import moto.route53.models as r53m
import moto.route53.responses as r53
import moto.s3.responses as s3r

CDATA = "<![CDATA[{{ resource }}]]>"
assert CDATA in r53.LIST_RRSET_RESPONSE, "moto's ListResourceRecordSets template changed; revisit this shim"
r53.LIST_RRSET_RESPONSE = r53.LIST_RRSET_RESPONSE.replace(CDATA, "{{ resource|e }}")

# moto renders a health check's booleans (Inverted, MeasureLatency, Disabled, EnableSNI) as
# Python's "True"/"False"; real Route 53 sends "true"/"false", and the SDK for Rust refuses
# anything else, so no health check could be created or read. Lower-case them.
_BOOL = re.compile(r"<(Inverted|MeasureLatency|Disabled|EnableSNI)>(True|False)</")
_hc_to_xml = r53m.HealthCheck.to_xml
assert "<Inverted>{{ health_check.inverted }}</Inverted>" in open(r53m.__file__).read(), "moto's health check template changed; revisit this shim"


def _hc_to_xml_lower(self):
    return _BOOL.sub(lambda m: f"<{m.group(1)}>{m.group(2).lower()}</", _hc_to_xml(self))


r53m.HealthCheck.to_xml = _hc_to_xml_lower

# moto renders launch template booleans (defaultVersion, and any boolean in the template data)
# as Python's "True"/"False" (bool is an int, so str(value)); real EC2 sends "true"/"false" and
# the SDK for Rust refuses anything else, so no launch template version could be read. Every
# call of the module's serializer, its own recursion included, goes through this.
import moto.ec2.responses.launch_templates as ltr  # noqa: E402

assert "isinstance(value, (str, int, float" in open(ltr.__file__).read(), "moto's launch template serializer changed; revisit this shim"
_lt_serialize = ltr.xml_serialize


def _lt_serialize_lower(tree, key, value):
    if isinstance(value, bool):
        value = "true" if value else "false"
    return _lt_serialize(tree, key, value)


ltr.xml_serialize = _lt_serialize_lower

# Real S3 evaluates If-Match / If-None-Match and stores the object as one atomic step: of two
# racing conditional writes exactly one wins (412 or 409 for the other). moto checks and then
# stores, and its server answers requests on several threads, so two racing writers could both
# pass the check; the shared store's lease relies on exactly this. One lock around PutObject
# makes moto's check-and-store atomic, as S3's is.
_put_lock = threading.Lock()
_put_object = s3r.S3Response.put_object


def _atomic_put_object(self, *args, **kwargs):
    with _put_lock:
        return _put_object(self, *args, **kwargs)


s3r.S3Response.put_object = _atomic_put_object

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())

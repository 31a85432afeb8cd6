"""moto server for standby's tests and demo, with one response format fixed.

moto 5.1.x renders Route 53 record values as <![CDATA[...]]>. Real Route 53 sends plain escaped
text, and the AWS SDK for Rust's XML parser does not read CDATA sections, so every record would
read back as "". This swaps the CDATA for Jinja's XML escaping before the server starts; the
assertion makes a moto upgrade that changes the template fail loudly instead of silently.
"""
import sys

import moto.route53.responses as r53

CDATA = "<![CDATA[{{ resource }}]]>"
assert CDATA in r53.LIST_RRSET_RESPONSE, "moto's ListResourceRecordSets template changed; revisit this shim"
r53.LIST_RRSET_RESPONSE = r53.LIST_RRSET_RESPONSE.replace(CDATA, "{{ resource|e }}")

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())

"""The Loyalty Customers profile: add new loyalty customers, update existing ones."""

from __future__ import annotations

from patron.imports.profile import FieldSpec, OptionSpec, ProfileSpec

UNIQUE_IDENTIFIERS = ("mobile", "email", "external_id")

FIELDS = (
    FieldSpec(
        "mobile",
        "Mobile No.",
        "The customer's mobile number; national numbers get the org's country code "
        "when append_country_code is on.",
        synonyms=(
            "mobile",
            "mobile number",
            "mobile no",
            "phone",
            "phone number",
            "cell",
            "cell phone",
            "msisdn",
            "contact number",
            "số điện thoại",
            "sdt",
            "điện thoại",
        ),
    ),
    FieldSpec(
        "email",
        "Email ID",
        "The customer's email address.",
        synonyms=("email", "e-mail", "email address", "mail", "email id", "địa chỉ email"),
    ),
    FieldSpec(
        "external_id",
        "External ID",
        "The customer's id in the brand's own systems.",
        synonyms=(
            "external id",
            "externalid",
            "customer id",
            "customer code",
            "member id",
            "member number",
            "loyalty id",
            "mã khách hàng",
        ),
    ),
    FieldSpec(
        "user_id",
        "User ID",
        "patron's customer id; a row with a user id updates that customer.",
        synonyms=("user id", "userid", "patron id", "customer user id"),
        kind="integer",
    ),
    FieldSpec(
        "store",
        "Till IUN Or Store Ext Id",
        "The store or till the customer joined at (its code, or its external id when "
        "stores_by_external_id is on).",
        synonyms=(
            "store",
            "store code",
            "till",
            "till iun",
            "till iun or store ext id",
            "store external id",
            "store ext id",
            "join store",
            "store terminal username",
            "branch",
            "outlet",
            "cửa hàng",
        ),
    ),
    FieldSpec(
        "registration_date",
        "Registration date",
        "When the customer registered; empty means the time of the import.",
        synonyms=(
            "registration date",
            "registered on",
            "registered at",
            "created at",
            "signup date",
            "ngày đăng ký",
        ),
        kind="date",
    ),
    FieldSpec(
        "join_date",
        "Date of Joining",
        "When the customer joined the loyalty program; must be a past date when mapped.",
        synonyms=("date of joining", "join date", "joining date", "joined on", "member since"),
        kind="date",
    ),
    FieldSpec(
        "first_name",
        "First Name",
        synonyms=("first name", "firstname", "given name", "forename", "name", "tên"),
    ),
    FieldSpec(
        "last_name",
        "Last Name",
        synonyms=("last name", "lastname", "surname", "family name", "họ"),
    ),
    FieldSpec(
        "loyalty_points",
        "Loyalty Points",
        "The customer's current points balance.",
        synonyms=("loyalty points", "points", "points balance", "current points", "điểm"),
        kind="number",
    ),
    FieldSpec(
        "lifetime_points",
        "Lifetime Points",
        "Points earned over the customer's lifetime.",
        synonyms=("lifetime points", "total points", "points earned"),
        kind="number",
    ),
    FieldSpec(
        "lifetime_purchases",
        "Lifetime Purchases",
        "The customer's total purchase amount.",
        synonyms=("lifetime purchases", "total purchases", "total spend", "lifetime value"),
        kind="number",
    ),
    FieldSpec(
        "slab_name",
        "Slab Name",
        "The customer's tier in the loyalty program.",
        synonyms=("slab name", "slab", "tier", "tier name", "level", "membership level"),
    ),
)

OPTIONS = (
    OptionSpec(
        "disable_existing_update",
        "bool",
        False,
        "Rows of customers who already exist are skipped instead of updating them.",
    ),
    OptionSpec(
        "skip_empty_custom_fields",
        "bool",
        False,
        "An empty custom or extended field cell leaves the stored value alone "
        "instead of clearing it.",
    ),
    OptionSpec(
        "update_fields",
        "fields",
        None,
        "The only fields an existing customer's row may change (default: every mapped field).",
    ),
    OptionSpec(
        "replace_invalid_store",
        "text",
        None,
        "The store (code, or external id with stores_by_external_id) used wherever a row's "
        "store is empty or unknown.",
    ),
    OptionSpec(
        "append_country_code",
        "bool",
        False,
        "National mobile numbers get the org's base country code.",
    ),
    OptionSpec(
        "disable_mobile_validation",
        "bool",
        False,
        "Mobile numbers are cleaned but not checked against the org's mobile rule.",
    ),
    OptionSpec(
        "disable_email_validation",
        "bool",
        False,
        "Email addresses are trimmed and lower-cased but not checked.",
    ),
    OptionSpec(
        "stores_by_external_id",
        "bool",
        False,
        "The store column holds the stores' external ids instead of their codes.",
    ),
    OptionSpec(
        "unique_identifier",
        "choice",
        "mobile",
        "The column that identifies the customer: mobile, email or external_id.",
        choices=UNIQUE_IDENTIFIERS,
    ),
)

SPEC = ProfileSpec(
    id="loyalty-customers",
    name="Loyalty Customers",
    fields=FIELDS,
    options=OPTIONS,
    accepts_org_fields=True,
)

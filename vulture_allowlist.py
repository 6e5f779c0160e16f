"""What `vulture` (in `make lint`) cannot see being used: names that frameworks, templates, the database or the
tests read. Never imported or run; each line only marks a name as used. A name goes here with the reason it is
used, never to silence a finding about code that is really dead. Decorated views, commands, error handlers,
Celery tasks and validators are recognised by their decorators (pyproject.toml, [tool.vulture])."""

# ruff: noqa
_ = object()

# Flask, Werkzeug and Flask-Login read these attributes and methods.
_.permanent  # session.permanent (organize/views/accounts.py)
_.public, _.max_age  # response.cache_control (congress/views.py)
_.request_class  # the class Flask makes each request of (security/bodies.py: BoundedRequest)
_.login_view, _.login_message, _.login_message_category  # LoginManager (organizers/accounts.py)
_.get_id, _.is_active  # Organizer, as a Flask-Login user (organizers/models.py)
_.outcry_password_failed  # g's flag, read by its name as a string (security/limits.py: FAILED_PASSWORD_FLAG)

# WTForms reads these.
_.choices  # a field's choices, set by the view before validation
_.widget, _.option_widget  # a field class's widgets (letters/forms.py, organize/forms.py)
_._extract_indices  # FieldList reads a form's entry numbers with it (letters/forms.py: LetterList)

# Celery reads these.
_.include  # app.conf.include (tasks/celery.py)
_.requires  # a worker bootstep's dependencies (tasks/celery.py)

# smtplib calls these on its SMTP class, and reads these attributes (delivery/smtp.py).
_._get_socket, _.getreply, _.file, _.ehlo_resp, _.helo_resp, _.does_esmtp, _.user
# httpcore calls these on a network backend and its streams (delivery/https.py).
_.connect_tcp, _.start_tls, _.get_extra_info, _.local_address, _.socket_options
# Authlib calls these on the HTTP session it is given (mailauth/service.py).
_.raise_for_status, _.post
# Jinja's sandbox and code generator call and read these (core/sandbox.py).
_.visit_Concat, _.concat_text, _.intercepted_binops, _.code_generator_class, _.globals, _.__self
# aiosmtpd calls its handler's handle_DATA (devmail.py).
_.handle_DATA
# PyYAML calls increase_indent(flow, indentless) (campaigns/files.py).
_.indentless

# Templates read these.
_.letters_done, _.calls_done  # the visit's progress (letters/actions.py; templates/macros.html)
_.failure_share, _.last_failure, _.last_failure_at  # a target's health (organize/target_health.py; organize/targets.html)
_.extras, _.grid  # the dashboard's charts (organize/charts.py; organize/charts.html)
_.personal_letters  # organize/dashboard.html
_.postal_prefix, _.postal_first_name, _.postal_last_name, _.postal_street2, _.postal_city, _.postal_state
_.postal_zip  # the CWC address fields, laid out by templates/cwc/postal_fields.html (cwc/forms.py)
_.last_reason  # an office's latest refusal (cwc/report.py; organize/dashboard.html)
_.failed_elsewhere  # a target's failures on the supporter's side (organize/target_health.py; organize/targets.html)

# Columns: written by the code, read by SQL, exports and templates.
_.fax, _.entered_at, _.updated_at, _.supporter_address, _.supporter_note
_.loaded_at  # when the Congress data was loaded (congress/models.py; kept for operators reading the table)

# Called by the tests and the benchmarks.
_.lookup_from_database  # the uncached ZIP lookup the cache is checked and measured against
_.volatile_server  # the suite's Redis for mail passwords, as `make run` starts one
_.forget_mx_cache  # tests of provider detection start each from an empty cache
_.cuts  # how many sockets the delivery watchdog cut

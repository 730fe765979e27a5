/* The Azure AD page: Default Section follows Default Department; placement rule rows; reveal and copy the code; confirm before a release. */
'use strict';
{
    function followDepartment(department, section) {
        // Keep every option aside and show only the chosen department's sections.
        const options = Array.from(section.options, (option) => option.cloneNode(true));
        function apply() {
            const chosen = section.value;
            const matching = options.filter(
                (option) => !option.dataset.department || option.dataset.department === department.value
            );
            section.replaceChildren(...matching.map((option) => option.cloneNode(true)));
            section.value = matching.some((option) => option.value === chosen) ? chosen : '';
        }
        department.addEventListener('change', apply);
        apply();
    }

    function followKind(row) {
        // A rule shows the input its kind reads: the group, or the department value.
        const kind = row.querySelector('select[name$="-kind"]');
        const group = row.querySelector('select[name$="-group"]');
        const value = row.querySelector('input[name$="-department_value"]');
        if (!kind || !group || !value) {
            return;
        }
        function apply() {
            group.hidden = kind.value !== 'group';
            value.hidden = kind.value !== 'department';
        }
        kind.addEventListener('change', apply);
        apply();
    }

    function setUpRules(fieldset) {
        fieldset.querySelectorAll('tr.placement-rule').forEach(followKind);
        const add = fieldset.querySelector('#add-placement-rule');
        const template = fieldset.querySelector('#placement-rule-template');
        const total = fieldset.querySelector('input[name="rules-TOTAL_FORMS"]');
        const rows = fieldset.querySelector('#placement-rule-rows');
        if (!add || !template || !total || !rows) {
            return;
        }
        add.addEventListener('click', () => {
            const index = Number(total.value);
            const html = template.innerHTML.replaceAll('__prefix__', String(index));
            const holder = document.createElement('tbody');
            holder.innerHTML = html;
            const row = holder.querySelector('tr');
            rows.appendChild(row);
            total.value = String(index + 1);
            followKind(row);
            row.querySelector('select[name$="-kind"]').focus();
        });
    }

    function csrfToken() {
        return document.querySelector('input[name="csrfmiddlewaretoken"]').value;
    }

    function say(panel, message, isError) {
        const feedback = panel.querySelector('.provisioning-feedback');
        if (!feedback) {
            return;
        }
        feedback.textContent = message;
        feedback.classList.toggle('error', Boolean(isError));
    }

    async function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            await navigator.clipboard.writeText(text);
            return;
        }
        // Plain-HTTP pages have no Clipboard API: fall back to a hidden selection.
        const area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.opacity = '0';
        document.body.appendChild(area);
        area.select();
        const copied = document.execCommand('copy');
        area.remove();
        if (!copied) {
            throw new Error('copy refused');
        }
    }

    function setUpCode(panel) {
        const field = panel.querySelector('#provisioning-code');
        const button = panel.querySelector('#reveal-code');
        if (!field || !button) {
            return;
        }
        let revealed = false;

        async function reveal() {
            const response = await fetch(button.dataset.revealUrl, {
                method: 'POST',
                headers: {'X-CSRFToken': csrfToken(), 'Accept': 'application/json'},
                credentials: 'same-origin',
                cache: 'no-store',
            });
            if (!response.ok) {
                throw new Error(`status ${response.status}`);
            }
            const body = await response.json();
            field.value = body.code;
            revealed = true;
            button.setAttribute('aria-pressed', 'true');
            button.setAttribute('aria-label', 'Hide');
            button.title = 'Hide';
        }

        function hide() {
            field.value = field.dataset.masked;
            revealed = false;
            button.setAttribute('aria-pressed', 'false');
            button.setAttribute('aria-label', 'Reveal');
            button.title = 'Reveal';
        }

        button.addEventListener('click', async () => {
            if (revealed) {
                hide();
                return;
            }
            try {
                await reveal();
                say(panel, '');
            } catch (error) {
                say(panel, 'The code could not be revealed. Reload the page and try again.', true);
            }
        });

        panel.querySelectorAll('[data-copy-from]').forEach((copyButton) => {
            copyButton.addEventListener('click', async () => {
                const source = document.getElementById(copyButton.dataset.copyFrom);
                try {
                    if (source === field && !revealed) {
                        await reveal();
                    }
                    await copyText(source.value);
                    say(panel, 'Copied.');
                } catch (error) {
                    say(panel, 'Copying failed: select the text and copy it by hand.', true);
                }
            });
        });
    }

    // Plain copy buttons: the value is on the page already (the OAuth client's part).
    function setUpCopy(panel) {
        panel.querySelectorAll('[data-copy-from]').forEach((copyButton) => {
            copyButton.addEventListener('click', async () => {
                try {
                    await copyText(document.getElementById(copyButton.dataset.copyFrom).value);
                    say(panel, 'Copied.');
                } catch (error) {
                    say(panel, 'Copying failed: select the text and copy it by hand.', true);
                }
            });
        });
    }

    function confirmBeforeSubmit(form) {
        form.addEventListener('submit', (event) => {
            if (!window.confirm(form.dataset.confirm)) {
                event.preventDefault();
            }
        });
    }

    document.addEventListener('DOMContentLoaded', () => {
        const department = document.getElementById('id_default_department');
        const section = document.getElementById('id_default_section');
        if (department && section) {
            followDepartment(department, section);
        }
        const rules = document.getElementById('placement-rules');
        if (rules) {
            setUpRules(rules);
        }
        const panel = document.getElementById('provisioning-code-panel');
        if (panel) {
            setUpCode(panel);
            panel.querySelectorAll('form[data-confirm]').forEach(confirmBeforeSubmit);
        }
        const client = document.getElementById('oauth-client-panel');
        if (client) {
            setUpCopy(client);
            client.querySelectorAll('form[data-confirm]').forEach(confirmBeforeSubmit);
        }
        // The brake's banner asks before Release, on the Azure AD page and on its review page.
        const banner = document.getElementById('brake-banner');
        if (banner) {
            banner.querySelectorAll('form[data-confirm]').forEach(confirmBeforeSubmit);
        }
    });
}

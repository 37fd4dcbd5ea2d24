{%- from tpldir ~ "/map.jinja" import demo with context %}

{%- for name in demo.containers | sort %}
demo-container-{{ name }}-absent:
  container.absent:
    - name: {{ name }}
{%-   if demo.profile %}
    - profile: {{ demo.profile }}
{%-   endif %}
    - stop_timeout: 2
{%- endfor %}
